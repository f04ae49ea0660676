import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pino from "pino";
import type { Applier, ApplyOutcome } from "../../sidecar/apply/applier";
import type { BackendSource } from "../../sidecar/docker/source";
import type { ContainerSnapshot } from "../../sidecar/model/types";
import type { Rendered } from "../../sidecar/render/render";
import { Reconciler } from "../../sidecar/reconcile/reconciler";
import { snap } from "./fixtures";

const TEMPLATE = path.resolve(__dirname, "../../templates/haproxy.cfg.hbs");

function setup(templatePath = TEMPLATE) {
  let listing: ContainerSnapshot[] | Error = [];
  const applied: Rendered[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (line: string) => { logs.push(JSON.parse(line)); } });
  const source: BackendSource = {
    list: async () => { if (listing instanceof Error) throw listing; return listing; },
    watch: () => undefined,
  };
  const applier = { apply: async (r: Rendered): Promise<ApplyOutcome> => { applied.push(r); return { kind: "unchanged" }; } } as unknown as Applier;
  const reconciler = new Reconciler(source, applier, log, {
    labelPrefix: "heig.lb", defaultBackend: "webapp", templatePath,
    paths: { runtimeSocket: "/s", serverStateFile: "/f" },
  });
  return { reconciler, applied, logs, setListing: (l: ContainerSnapshot[] | Error) => { listing = l; } };
}

describe("Reconciler", () => {
  it("renders the listing and applies it", async () => {
    const { reconciler, applied, setListing } = setup();
    setListing([snap("compose_webapp_1")]);
    const r = await reconciler.sync();
    expect(r.ok).toBe(true);
    expect(applied).toHaveLength(1);
    expect(applied[0]!.text).toContain("server compose_webapp_1 172.18.0.11:3000 check");
  });

  it("applies nothing when the listing fails, and asks for a retry", async () => {
    const { reconciler, applied, setListing } = setup();
    setListing(new Error("connect ECONNREFUSED /var/run/docker.sock"));
    await expect(reconciler.sync()).resolves.toMatchObject({ ok: false, stage: "list", retry: true, error: expect.stringContaining("ECONNREFUSED") });
    expect(applied).toEqual([]);
  });

  it("takes a container out on a terminating kill event, before Docker lists it as stopped", async () => {
    const { reconciler, applied, setListing } = setup();
    const leaving = snap("compose_webapp_2");
    setListing([snap("compose_webapp_1"), leaving]);
    reconciler.observe({ containerId: leaving.id, action: "kill", signal: "15" });
    await reconciler.sync();
    expect(applied[0]!.text).not.toContain("compose_webapp_2");
    expect(applied[0]!.text).toContain("compose_webapp_1");
  });

  it("keeps the last good config on a template error, logs it once, and does not retry", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ha-sidecar-"));
    const tpl = path.join(dir, "t.hbs");
    writeFileSync(tpl, "global\n{{#each services}}\n");
    const { reconciler, applied, logs } = setup(tpl);
    await expect(reconciler.sync()).resolves.toMatchObject({ ok: false, stage: "template", retry: false });
    await reconciler.sync();
    expect(applied).toEqual([]);
    expect(logs.filter((l) => l["msg"] === "template error, keeping the last good config")).toHaveLength(1);
  });

  it("refuses a template without the description line it needs to confirm reloads", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ha-sidecar-"));
    const tpl = path.join(dir, "t.hbs");
    writeFileSync(tpl, "global\n    maxconn 10\n");
    const { reconciler, applied } = setup(tpl);
    await expect(reconciler.sync()).resolves.toMatchObject({ ok: false, stage: "template", error: expect.stringContaining("description ha-sidecar-") });
    expect(applied).toEqual([]);
  });

  it("warns once per container and label about a bad label, and keeps routing the others", async () => {
    const { reconciler, applied, logs, setListing } = setup();
    setListing([snap("good_1"), snap("evil_2", { extraLabels: { "heig.lb.weight": "1\n  server x 10.0.0.1:80" } })]);
    await reconciler.sync();
    await reconciler.sync();
    const warnings = logs.filter((l) => l["msg"] === "container skipped: bad label");
    expect(warnings).toEqual([expect.objectContaining({ level: 40, container: "evil_2", label: "heig.lb.weight" })]);
    expect(applied[1]!.text).toContain("server good_1 ");
    expect(applied[1]!.text).not.toContain("10.0.0.1");
  });
});
