/**
 * The operator's history: every routing change is a record at /changes (why, when asked for,
 * when HAProxy confirmed it), kept across a sidecar restart, and drawn on the status page's
 * timeline (headless Chromium).
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { chromium } from "playwright-core";
import {
  compose,
  containerOf,
  eventually,
  get,
  removeTestLeftovers,
  ROOT,
  runLabelled,
  serviceContainers,
  sh,
  STATUS_PORT,
  upServers,
} from "./helpers";
import { editTemplate } from "./template";

jest.setTimeout(300_000);

interface Rec {
  seq: number;
  kind: string;
  backend: string | null;
  server: string | null;
  container: string | null;
  detail: string | null;
  reason: string;
  triggeredAt: string;
  confirmedAt: string | null;
  tookMs: number | null;
  via: string | null;
}

async function changes(query = ""): Promise<Rec[]> {
  const r = await get(STATUS_PORT, `/changes${query}`);
  if (r.status !== 200) throw new Error(`/changes answered ${r.status}: ${r.body}`);
  return (JSON.parse(r.body) as { records: Rec[] }).records;
}
/** The records of one step: those after `seq`. */
const after = async (seq: number): Promise<Rec[]> => (await changes()).filter((r) => r.seq > seq);
const lastSeq = async (): Promise<number> => (await changes()).reduce((m, r) => Math.max(m, r.seq), 0);
/** A container's records, as [kind, reason]. */
const story = (records: Rec[], container: string): string[][] =>
  records.filter((r) => r.container === container).map((r) => [r.kind, r.reason]);
const onlyKinds = (records: Rec[], kinds: string[]): void =>
  expect([...new Set(records.map((r) => r.kind))].filter((k) => !kinds.includes(k))).toEqual([]);

/** Every record is explained and confirmed, no earlier than asked for. */
function wellFormed(records: Rec[]): void {
  for (const r of records) {
    expect(r.reason).toMatch(/\S/);
    expect(r.confirmedAt).not.toBeNull();
    expect(Date.parse(r.confirmedAt!)).toBeGreaterThanOrEqual(Date.parse(r.triggeredAt));
    expect(r.tookMs).toBe(Date.parse(r.confirmedAt!) - Date.parse(r.triggeredAt));
  }
  const seqs = records.map((r) => r.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
}

const all: Rec[] = [];
let startSeq = 0;

beforeAll(async () => {
  removeTestLeftovers();
  sh("make down");
  sh("make up N=2");
  await eventually(async () => expect(await upServers()).toEqual([containerOf("webapp", 1), containerOf("webapp", 2)]));
  startSeq = await lastSeq();
});

afterAll(() => {
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

/** `docker restart` ends with a `restart` event after `start`: either names the return. */
const STARTED = /^docker event (start|restart)(, then readiness probe: listening)?$/;

describe("the change log at /changes", () => {
  it("scale 2 → 4: one server-added per new container, on its start and readiness, through the runtime API", async () => {
    const from = await lastSeq();
    sh("make scale N=4");
    await eventually(async () => expect(await upServers()).toEqual(serviceContainers("webapp")), 60_000);
    const records = await eventually(async () => {
      const r = await after(from);
      expect(r.filter((x) => x.kind === "server-added")).toHaveLength(2);
      return r;
    });
    onlyKinds(records, ["server-added", "runtime-apply"]);
    for (const name of [containerOf("webapp", 3), containerOf("webapp", 4)]) {
      // The readiness probe is named when the container was not listening yet at its start's pass.
      expect(story(records, name)).toEqual([["server-added", expect.stringMatching(STARTED)]]);
    }
    expect(records.filter((r) => r.kind === "server-added").every((r) => r.via === "runtime")).toBe(true);
    wellFormed(records);
    all.push(...records);
  });

  it("scale 4 → 2: each stopped container drained on its kill event, then removed", async () => {
    const from = await lastSeq();
    sh("make scale N=2");
    await eventually(async () =>
      expect(await upServers()).toEqual([containerOf("webapp", 1), containerOf("webapp", 2)]),
    );
    const records = await eventually(async () => {
      const r = await after(from);
      expect(r.filter((x) => x.kind === "server-removed")).toHaveLength(2);
      return r;
    });
    onlyKinds(records, ["server-drained", "server-removed", "runtime-apply"]);
    for (const name of [containerOf("webapp", 3), containerOf("webapp", 4)]) {
      expect(story(records, name)).toEqual([
        ["server-drained", "docker event kill"],
        ["server-removed", "docker event kill"],
      ]);
    }
    wellFormed(records);
    all.push(...records);
  });

  it("a restarted webapp: drained, removed, then added back when it listens again", async () => {
    const from = await lastSeq();
    const name = containerOf("webapp", 2);
    sh(`docker restart ${name}`);
    const records = await eventually(async () => {
      const r = await after(from);
      expect(r.filter((x) => x.kind === "server-added")).toHaveLength(1);
      return r;
    }, 60_000);
    expect(story(records, name)).toEqual([
      ["server-drained", "docker event kill"],
      ["server-removed", "docker event kill"],
      ["server-added", expect.stringMatching(STARTED)],
    ]);
    onlyKinds(records, ["server-drained", "server-removed", "server-added", "runtime-apply"]);
    wellFormed(records);
    all.push(...records);
  });

  it("a bad label: one label-rejected record naming the container and the label", async () => {
    const from = await lastSeq();
    runLabelled("hs-e2e-changes-badlabel", "--label heig.lb.port=http");
    const records = await eventually(async () => {
      const r = await after(from);
      expect(r).toHaveLength(1);
      return r;
    });
    expect(records[0]).toMatchObject({
      kind: "label-rejected",
      container: "hs-e2e-changes-badlabel",
      reason: "labels: bad-label",
    });
    expect(records[0]!.detail).toMatch(/^heig\.lb\.port: /);
    wellFormed(records);
    all.push(...records);
    sh("docker rm -f hs-e2e-changes-badlabel");
  });

  it("a template HAProxy rejects: one config-rejected record with HAProxy's message; fixed, the change applies", async () => {
    const from = await lastSeq();
    const restore = editTemplate((t) => t.replace(/^defaults$/m, "defaults\n    no-such-directive on"));
    try {
      runLabelled("hs-e2e-changes-poke");
      const rejected = await eventually(async () => {
        const r = await after(from);
        expect(r.map((x) => x.kind)).toContain("config-rejected");
        return r;
      });
      expect(rejected).toHaveLength(1);
      expect(rejected[0]).toMatchObject({
        kind: "config-rejected",
        reason: "haproxy -c rejected the render",
        via: null,
      });
      expect(rejected[0]!.detail).toContain("no-such-directive");
      wellFormed(rejected);
      all.push(...rejected);
    } finally {
      restore();
    }
    const fixedFrom = await lastSeq();
    runLabelled("hs-e2e-changes-poke2");
    const fixed = await eventually(async () => {
      const r = await after(fixedFrom);
      expect(
        r
          .filter((x) => x.kind === "server-added")
          .map((x) => x.container)
          .sort(),
      ).toEqual(["hs-e2e-changes-poke", "hs-e2e-changes-poke2"]);
      return r;
    }, 60_000);
    wellFormed(fixed);
    all.push(...fixed);
  });

  it("filters by container and since", async () => {
    const name = containerOf("webapp", 2);
    const mine = (await changes(`?container=${name}`)).filter((r) => r.seq > startSeq);
    expect(mine.map((r) => r.kind)).toEqual(["server-drained", "server-removed", "server-added"]);
    const since = all.find((r) => r.kind === "label-rejected")!.confirmedAt!;
    const later = await changes(`?since=${encodeURIComponent(since)}`);
    expect(later[0]!.seq).toBeLessThanOrEqual(all.find((r) => r.kind === "label-rejected")!.seq);
    expect(later.every((r) => Date.parse(r.confirmedAt ?? r.triggeredAt) >= Date.parse(since))).toBe(true);
    const bad = await get(STATUS_PORT, "/changes?since=noon");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/since=noon/);
  });

  it("keeps the history across a sidecar restart (the file on the shared volume), numbering on", async () => {
    const before = (await changes()).filter((r) => r.seq > startSeq);
    expect(before.map((r) => r.seq)).toEqual(all.map((r) => r.seq));
    compose("restart sidecar");
    await eventually(async () => expect((await get(STATUS_PORT, "/healthz")).status).toBe(200), 60_000);
    const kept = (await changes()).filter((r) => r.seq > startSeq);
    expect(kept.slice(0, before.length)).toEqual(before);
    // HAProxy routed the same servers before and after: the restart itself changed nothing.
    expect(kept.slice(before.length)).toEqual([]);
    sh("docker rm -f hs-e2e-changes-poke hs-e2e-changes-poke2");
    await eventually(async () => {
      const removed = (await after(before[before.length - 1]!.seq)).filter((r) => r.kind === "server-removed");
      expect(removed.map((r) => r.container).sort()).toEqual(["hs-e2e-changes-poke", "hs-e2e-changes-poke2"]);
    });
  });
});

describe("the status page's timeline", () => {
  it("shows the same changes as /changes, one mark each, with the record on hover", async () => {
    const records = await changes(`?since=${Date.now() - 3_600_000}`);
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
      await page.goto(`http://127.0.0.1:${STATUS_PORT}/`);
      await page.waitForFunction(`document.querySelectorAll('#timeline .mark').length >= ${records.length}`);
      const marks = await page.$$eval("#timeline .mark", (gs) =>
        gs.map((g) => [Number(g.getAttribute("data-seq")), g.getAttribute("data-kind"), g.getAttribute("data-lane")]),
      );
      const bySeq = new Map(marks.map((m) => [m[0], m]));
      for (const r of records) {
        const lane = r.backend !== null && r.kind !== "reload" && r.kind !== "runtime-apply" ? r.backend : "HAProxy";
        expect(bySeq.get(r.seq)).toEqual([r.seq, r.kind, lane]);
      }
      const lanes = await page.$$eval("#timeline text.lane", (ts) => ts.map((t) => t.textContent));
      expect(lanes).toEqual(["HAProxy", "webapp"]);
      // Hover: the restarted container's return, in words.
      const back = records.filter((r) => r.kind === "server-added" && r.container === containerOf("webapp", 2)).pop()!;
      // At an hour's scale marks a second apart overlap: the event goes to the mark itself.
      await page.dispatchEvent(`#timeline .mark[data-seq="${back.seq}"]`, "mouseover");
      const shown = await page.textContent("#record");
      expect(shown).toContain(`#${back.seq} `);
      expect(shown).toContain(`server-added webapp/${containerOf("webapp", 2)}: ${back.reason}`);
      expect(back.reason).toMatch(STARTED);
      expect(shown).toContain(`confirmed after ${back.tookMs} ms (runtime)`);
      const recent = await page.$$eval("#recent li", (lis) => lis.map((li) => li.textContent));
      expect(recent[0]).toContain(records[records.length - 1]!.kind);
      // The last 5 minutes, where this test's changes spread out: the screenshot.
      await page.selectOption("#window", "5");
      await page.waitForFunction(`document.querySelector('#timeline svg').getAttribute('data-window-ms') === '300000'`);
      mkdirSync(path.join(ROOT, "test-output"), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, "test-output/status-timeline.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
