/**
 * Property: whatever a container's labels, name, id and address say, through the real path
 * (Docker's listing entry → the boundary check → snapshot → desired state → the real template),
 * the container is either left out (a bad label names itself) or gets exactly one server line
 * that reads back as exactly the intended name, address, port and weight: no newline, no extra
 * token, no other line of the config touched.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import * as path from "node:path";
import fc from "fast-check";
import { mapContainerSummary, parseContainerSummary } from "../../sidecar/docker/map";
import { buildDesiredState } from "../../sidecar/model/desired-state";
import { BACKEND_NAME_RE, parseLbLabels } from "../../sidecar/model/labels";
import { assignServerIds } from "../../sidecar/model/server-ids";
import type { BackendSnapshot } from "../../sidecar/model/types";
import { compileTemplate, renderConfig } from "../../sidecar/render/render";
import { parseServerLines, stripServerLines } from "../../sidecar/render/server-lines";

const template = compileTemplate(readFileSync(path.resolve(__dirname, "../../templates/haproxy.cfg.hbs"), "utf8"));
const paths = {
  runtimeSocket: "/var/lib/ha-sidecar/run/admin.sock",
  serverStateFile: "/var/lib/ha-sidecar/server-state",
};
const P = "heig.lb";

/** What an attacker who controls a container's labels (or a confused engine) might write. */
const INJECTIONS = [
  "\n    server evil 10.9.9.9:80",
  "\r\nbackend evil",
  " weight 256",
  " backup",
  "#",
  '"',
  "'",
  "\\",
  "{{configId}}",
  "\u2028",
  "\u0000",
  " ",
  "\t",
];
const hostile = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc
    .tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...INJECTIONS), fc.string({ maxLength: 6 }))
    .map((p) => p.join("")),
);
/** Mostly a good value (or none), sometimes a hostile one: most containers get routed, many do not. */
const labelValue = (good: fc.Arbitrary<string>) =>
  fc.option(fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: hostile }), { nil: undefined, freq: 3 });
const labels = fc
  .record({
    enable: fc.oneof(
      { weight: 10, arbitrary: fc.constant("true") },
      { weight: 1, arbitrary: labelValue(fc.constant("false")) },
    ),
    port: labelValue(fc.integer({ min: 0, max: 70_000 }).map(String)),
    backend: labelValue(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,70}$/)),
    weight: labelValue(fc.integer({ min: 0, max: 300 }).map(String)),
    sticky: labelValue(fc.constantFrom("true", "false")),
    service: labelValue(fc.constantFrom("webapp", "api", "stats", "http", "ha-sidecar-probe")),
  })
  .map((l) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(l))
      if (v !== undefined) out[k === "service" ? "com.docker.compose.service" : `${P}.${k}`] = v;
    return out;
  });
const entry = fc.record({
  Id: fc.oneof({ weight: 12, arbitrary: fc.stringMatching(/^[0-9a-f]{64}$/) }, { weight: 1, arbitrary: hostile }),
  Names: fc.array(fc.oneof(fc.stringMatching(/^\/[a-z0-9_]{1,12}$/), hostile), { minLength: 1, maxLength: 2 }),
  State: fc.constant("running"),
  Status: fc.constant("Up 3 seconds"),
  Labels: labels,
  NetworkSettings: fc.record({
    Networks: fc.record({
      heig: fc.record({
        IPAddress: fc.oneof(
          { weight: 4, arbitrary: fc.ipV4() },
          { weight: 1, arbitrary: fc.ipV6() },
          { weight: 2, arbitrary: hostile },
        ),
      }),
    }),
  }),
});

const tokens = (line: string): string[] => line.trim().split(/\s+/);

/** Each server line's tokens, by `backend/server`, read plainly (no folding of defaults). */
function rawServerLines(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let backend: string | null = null;
  for (const line of text.split("\n")) {
    const t = tokens(line);
    if (/^\S/.test(line)) backend = t[0] === "backend" ? (t[1] ?? null) : null;
    else if (t[0] === "server" && backend !== null) out.set(`${backend}/${t[1]}`, t);
  }
  return out;
}

describe("labels → haproxy.cfg (property)", () => {
  it("leaves a container out for its bad label, or gives it one server line that reads back exactly", () => {
    let routedInAll = 0;
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
        const snapshots: BackendSnapshot[] = entries.flatMap((e) => {
          const c = parseContainerSummary(e);
          return typeof c === "string" ? [] : [mapContainerSummary(c, "heig")];
        });
        const { state, excluded } = buildDesiredState(snapshots, {
          labelPrefix: P,
          defaultService: "webapp",
          draining: new Set(),
          reservedNames: new Set(["http", "stats"]),
        });
        const rendered = renderConfig(template, state, paths);
        const text = rendered.text;

        // Nothing but printable ASCII, and the structure is the template's: one line per server more.
        expect(/^[\x20-\x7e\n]*$/.test(text)).toBe(true);
        const servers = state.services.flatMap((s) =>
          s.servers.map((b) => ({ backend: s.name, sticky: s.sticky, ...b })),
        );
        const serverLines = text.split("\n").filter((l) => tokens(l)[0] === "server");
        expect(serverLines).toHaveLength(servers.length);
        const empty = renderConfig(
          template,
          { ...state, services: state.services.map((s) => ({ ...s, servers: [] })) },
          paths,
        );
        expect(stripServerLines(text).replace(rendered.configId, "")).toBe(empty.text.replace(empty.configId, ""));

        for (const s of state.services) expect(s.name).toMatch(BACKEND_NAME_RE);
        const read = parseServerLines(text);
        const raw = rawServerLines(text);
        const ids = new Map(state.services.map((s) => [s.name, assignServerIds(s.servers.map((b) => b.name))]));
        routedInAll += servers.length;
        for (const b of servers) {
          expect(b.name).toMatch(/^[A-Za-z0-9_.-]+$/);
          expect(isIP(b.address)).not.toBe(0);
          expect(Number.isInteger(b.port) && b.port >= 1 && b.port <= 65535).toBe(true);
          const line = read.get(`${b.backend}/${b.name}`);
          expect(line).toMatchObject({
            backend: b.backend,
            name: b.name,
            address: b.address,
            port: b.port,
            weight: b.weight ?? 1,
            id: ids.get(b.backend)!.get(b.name),
          });
          expect(raw.get(`${b.backend}/${b.name}`)).toEqual([
            "server",
            b.name,
            `${b.address}:${b.port}`,
            "id",
            String(ids.get(b.backend)!.get(b.name)),
            "check",
            ...(b.weight === null ? [] : ["weight", String(b.weight)]),
            ...(b.sticky ? ["cookie", b.name] : []),
          ]);
        }

        // Every labelled container is accounted for: routed, or left out for a reason; a bad
        // label names the label.
        for (const c of snapshots) {
          const parsed = parseLbLabels(c.labels, P);
          const out = excluded.find((e) => e.sourceId === c.id);
          const routed = servers.some((b) => b.sourceId === c.id);
          if (!parsed.ok) {
            expect(routed).toBe(false);
            expect(out).toMatchObject({ reason: "bad-label", label: parsed.label });
          } else if (parsed.value.enabled) expect(routed || out !== undefined).toBe(true);
          else expect(routed).toBe(false);
        }
      }),
      { numRuns: 1_500 },
    );
    // Not vacuous: thousands of servers were rendered and read back.
    expect(routedInAll).toBeGreaterThan(1_000);
  });
});
