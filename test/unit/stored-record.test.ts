/**
 * Change records read back from the volume (issue 18, finding 3): checked field by field, the
 * file's size and line length capped, and nothing read back makes /changes or the timeline throw.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { JsonLinesChangeFile, MAX_LINE_BYTES } from "../../sidecar/changes/change-file";
import { ChangeLog } from "../../sidecar/changes/change-log";
import type { ChangeRecord } from "../../sidecar/changes/records";
import { parseStoredRecord } from "../../sidecar/changes/stored-record";
import { timelineSvg } from "../../sidecar/changes/timeline";
import { capturingLogger } from "./status-fixture";

const T0 = Date.UTC(2030, 0, 1, 12);
export const goodRecord: ChangeRecord = {
  seq: 7,
  kind: "server-added",
  backend: "webapp",
  server: "web_1",
  container: "web_1",
  containerId: "abcdef0123456789",
  detail: "10.0.0.2:3000 weight 1",
  reason: "docker event start",
  cause: { source: "docker", event: "start", at: T0 - 40 },
  triggeredAt: new Date(T0 - 40).toISOString(),
  confirmedAt: new Date(T0).toISOString(),
  tookMs: 40,
  via: "runtime",
};
const line = (over: Record<string, unknown>): string => JSON.stringify({ ...goodRecord, ...over });

describe("parseStoredRecord (pure)", () => {
  it("reads a record back as it was written, keeping only the known fields", () => {
    expect(parseStoredRecord(JSON.stringify(goodRecord))).toEqual(goodRecord);
    expect(parseStoredRecord(line({ extra: { deep: [1] }, __proto__: { x: 1 } }))).toEqual(goodRecord);
    const unconfirmed = { ...goodRecord, confirmedAt: null, tookMs: null, via: null, containerId: null };
    expect(parseStoredRecord(JSON.stringify(unconfirmed))).toEqual(unconfirmed);
  });

  it.each<[string, string]>([
    ['{"seq":99,"kind":"server-ad', "not JSON (a line cut by a crash mid-write?)"],
    ["[1,2]", "not a JSON object"],
    ["null", "not a JSON object"],
    [line({ seq: 0 }), "seq: 0 is not a number from 1"],
    [line({ seq: 1.5 }), "seq: 1.5 is not a whole number"],
    [line({ seq: "7" }), 'seq: "7" is not a number from 1'],
    [line({ seq: 2 ** 60 }), "seq: 1152921504606847000 is not a whole number"],
    [line({ kind: "exploded" }), 'kind: "exploded" is not a known kind'],
    [line({ kind: "toString" }), 'kind: "toString" is not a known kind'],
    [line({ backend: 5 }), "backend: 5 is not a string"],
    [line({ server: ["a"] }), 'server: ["a"] is not a string'],
    [line({ container: undefined }), "container: undefined is not a string"],
    [line({ containerId: { a: 1 } }), 'containerId: {"a":1} is not a string'],
    [line({ detail: "x".repeat(5000) }), "detail: longer than 4096 characters"],
    [line({ reason: null }), "reason: null is not a string"],
    [line({ cause: "docker" }), 'cause: "docker" is not an object'],
    [line({ cause: { source: "mars", event: "x", at: 1 } }), 'cause.source: "mars" is not a known source'],
    [line({ cause: { source: "docker", event: 1, at: 1 } }), "cause.event: 1 is not a string"],
    [line({ cause: { source: "docker", event: "x", at: "1" } }), 'cause.at: "1" is not a number'],
    [line({ triggeredAt: "yesterday" }), 'triggeredAt: "yesterday" is not a time'],
    [line({ confirmedAt: "+275760-09-13T00:00:00.001Z" }), 'confirmedAt: "+275760-09-13T00:00:00.001Z" is not a time'],
    [line({ tookMs: -1 }), "tookMs: -1 is not a number from 0"],
    [line({ via: "pigeon" }), 'via: "pigeon" is not a known via'],
  ])("refuses %s: %s", (text, problem) => expect(parseStoredRecord(text)).toBe(problem));
});

describe("the change log's history, read back", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "stored-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const start = async (file: string, maxBytes = 1 << 20) => {
    const { log, logged } = capturingLogger();
    const changes = new ChangeLog(new JsonLinesChangeFile(file, maxBytes), { now: () => T0 } as never, log, {
      keep: 100,
      source: "docker",
    });
    await changes.start(null);
    return { changes, logged };
  };

  it("drops a record of unknown kind or with a field of the wrong type, says which line once, and keeps serving the rest", async () => {
    const file = path.join(dir, "changes.jsonl");
    writeFileSync(
      file,
      [
        line({ seq: 1 }),
        line({ seq: 2, kind: "exploded" }),
        line({ seq: 3, backend: 5 }),
        line({ seq: 4, containerId: 12345678901234 }),
        line({ seq: 5 }),
      ].join("\n"),
    );
    const { changes, logged } = await start(file);
    // These threw on the old code: the status page polls the timeline every 2 s.
    expect(() => timelineSvg(changes.query(), T0)).not.toThrow();
    expect(() => changes.query({ container: "abcdef01234567" })).not.toThrow();
    expect(changes.query().map((r) => r.seq)).toEqual([1, 5]);
    const warnings = logged.lines.filter((l) => l["level"] === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: "change log history read back in part",
        dropped: 3,
        problems: [
          `${file} line 2: kind: "exploded" is not a known kind`,
          `${file} line 3: backend: 5 is not a string`,
          `${file} line 4: containerId: 12345678901234 is not a string`,
        ],
        more: 0,
      }),
    ]);
  });

  it("reads at most twice LB_CHANGES_MAX_BYTES, from the newest end, and skips over-long lines", async () => {
    const file = path.join(dir, "changes.jsonl");
    const maxBytes = 4096;
    // A previous generation of 20 records, then a current file blown up to 10 times the cap.
    writeFileSync(`${file}.1`, Array.from({ length: 20 }, (_, i) => line({ seq: i + 1 })).join("\n") + "\n");
    const current = Array.from({ length: 200 }, (_, i) => line({ seq: 100 + i })).join("\n") + "\n";
    writeFileSync(file, `${"x".repeat(MAX_LINE_BYTES + 1)}\n${current}`);
    const loaded = await new JsonLinesChangeFile(file, maxBytes).load();
    const bytes = loaded.lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0);
    expect(bytes).toBeLessThanOrEqual(2 * maxBytes);
    expect(loaded.lines.every((l) => l.file === file)).toBe(true);
    expect(loaded.notes).toEqual([
      `${file}: ${Buffer.byteLength(current) + MAX_LINE_BYTES + 2} bytes, only its last 8192 read`,
    ]);
    const { changes } = await start(file, maxBytes);
    expect(changes.query().at(-1)!.seq).toBe(299);

    const other = path.join(dir, "other.jsonl");
    writeFileSync(other, `${line({ seq: 1 })}\n${"y".repeat(MAX_LINE_BYTES + 1)}\n${line({ seq: 2 })}\n`);
    const skipped = await new JsonLinesChangeFile(other, 1 << 20).load();
    expect(skipped.lines.map((l) => l.line)).toEqual([1, 3]);
    expect(skipped.notes).toEqual([`${other} line 2: longer than ${MAX_LINE_BYTES} bytes, skipped`]);
  });

  it("skips a history that is no regular file", async () => {
    const file = path.join(dir, "changes.jsonl");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(file);
    const loaded = await new JsonLinesChangeFile(file, 4096).load();
    expect(loaded).toEqual({ lines: [], notes: [`${file}: not a regular file, skipped`] });
  });
});
