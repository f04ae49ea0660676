/**
 * Property: whatever the change file holds (records, records with fields swapped for any JSON,
 * any JSON, any text, any bytes), reading it back never throws, everything kept is a record that
 * checks out, and neither /changes' query nor the timeline throws on it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import pino from "pino";
import { JsonLinesChangeFile } from "../../sidecar/changes/change-file";
import { ChangeLog } from "../../sidecar/changes/change-log";
import type { ChangeRecord } from "../../sidecar/changes/records";
import { parseStoredRecord } from "../../sidecar/changes/stored-record";
import { timelineSvg } from "../../sidecar/changes/timeline";

const T0 = Date.UTC(2030, 0, 1, 12);
const KINDS = [
  "server-added",
  "server-drained",
  "server-removed",
  "weight-changed",
  "address-changed",
  "backend-added",
  "backend-removed",
  "label-rejected",
  "config-rejected",
  "reload",
  "runtime-apply",
] as const;
const SOURCES = ["docker", "swarm", "readiness", "serf", "resync", "haproxy", "template", "labels", "sidecar"] as const;

const iso = fc.date({ min: new Date(T0 - 2 * 3_600_000), max: new Date(T0 + 60_000), noInvalidDate: true });
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: "binary", maxLength: 20 }));
const record: fc.Arbitrary<ChangeRecord> = fc.record({
  seq: fc.integer({ min: 1, max: 1_000_000 }),
  kind: fc.constantFrom(...KINDS),
  backend: fc.option(text, { nil: null }),
  server: fc.option(text, { nil: null }),
  container: fc.option(text, { nil: null }),
  containerId: fc.option(text, { nil: null }),
  detail: fc.option(text, { nil: null }),
  reason: text,
  cause: fc.record({ source: fc.constantFrom(...SOURCES), event: text, at: fc.integer() }),
  triggeredAt: iso.map((d) => d.toISOString()),
  confirmedAt: fc.option(
    iso.map((d) => d.toISOString()),
    { nil: null },
  ),
  tookMs: fc.option(fc.nat(), { nil: null }),
  via: fc.option(fc.constantFrom("runtime", "reload", "drain", "file") as fc.Arbitrary<ChangeRecord["via"]>, {
    nil: null,
  }),
});
const FIELDS = [
  "seq",
  "kind",
  "backend",
  "server",
  "container",
  "containerId",
  "detail",
  "reason",
  "cause",
  "triggeredAt",
  "confirmedAt",
  "tookMs",
  "via",
  "extra",
  "__proto__",
];
/** A record with some fields replaced by any JSON, removed (undefined), or added. */
const mangled = fc
  .tuple(
    record,
    fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.option(fc.jsonValue(), { nil: undefined })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([r, swaps]) => {
    const o: Record<string, unknown> = { ...r };
    for (const [k, v] of swaps) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true });
    return JSON.stringify(o);
  });
const lineBytes = fc.oneof(
  { weight: 4, arbitrary: record.map((r) => Buffer.from(JSON.stringify(r))) },
  { weight: 4, arbitrary: mangled.map((l) => Buffer.from(l)) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? "")) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)) },
);
const file = fc
  .array(lineBytes, { maxLength: 30 })
  .map((ls) => Buffer.concat(ls.flatMap((l) => [l, Buffer.from("\n")])));

describe("the change log's history (property)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "stored-prop-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads any line back as a record that checks out, or not at all", () => {
    fc.assert(
      fc.property(lineBytes, (bytes) => {
        const r = parseStoredRecord(bytes.toString("utf8"));
        if (typeof r !== "string") expect(parseStoredRecord(JSON.stringify(r))).toEqual(r);
      }),
      { numRuns: 5_000 },
    );
  });

  it("loads any file without throwing; what it keeps checks out, and /changes and the timeline never throw", async () => {
    let n = 0;
    let keptInAll = 0;
    await fc.assert(
      fc.asyncProperty(
        file,
        fc.option(file, { nil: null }),
        fc.constantFrom(4096, 16_384, 1 << 20),
        fc.option(text, { nil: undefined }),
        fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined }),
        fc.integer({ min: 1, max: 1440 }),
        async (current, previous, maxBytes, container, since, minutes) => {
          const p = path.join(dir, `c${n++}.jsonl`);
          writeFileSync(p, current);
          if (previous !== null) writeFileSync(`${p}.1`, previous);
          const log = new ChangeLog(
            new JsonLinesChangeFile(p, maxBytes),
            { now: () => T0 } as never,
            pino({ level: "silent" }),
            {
              keep: 20,
              source: "docker",
            },
          );
          await log.start(null);
          const kept = log.query();
          keptInAll += kept.length;
          expect(kept.length).toBeLessThanOrEqual(20);
          for (const r of kept) expect(parseStoredRecord(JSON.stringify(r))).toEqual(r);
          expect(() => JSON.stringify(log.query({ container, since }))).not.toThrow();
          expect(timelineSvg(kept, T0, minutes * 60_000)).toMatch(/^<svg /);
        },
      ),
      { numRuns: 400 },
    );
    // Not vacuous: most runs keep records.
    expect(keptInAll).toBeGreaterThan(1_000);
  });
});
