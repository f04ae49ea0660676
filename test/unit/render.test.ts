import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { buildDesiredState } from "../../sidecar/model/desired-state";
import { preferredServerId } from "../../sidecar/model/server-ids";
import { compileTemplate, renderConfig, TemplateError } from "../../sidecar/render/render";
import { snap } from "./fixtures";

const root = path.resolve(__dirname, "../..");
const templateSource = readFileSync(path.join(root, "templates/haproxy.cfg.hbs"), "utf8");
const template = compileTemplate(templateSource);
const paths = {
  runtimeSocket: "/var/lib/ha-sidecar/run/admin.sock",
  serverStateFile: "/var/lib/ha-sidecar/server-state",
};
const opts = { labelPrefix: "heig.lb", defaultService: "webapp", draining: new Set<string>() };
const render = (snaps: Parameters<typeof buildDesiredState>[0], statsAuth: string | null = null) =>
  renderConfig(template, buildDesiredState(snaps, opts).state, { ...paths, statsAuth });

/**
 * Golden files are compared byte for byte. After a deliberate change, `UPDATE_GOLDEN=1 npx jest
 * render` rewrites them and fails on purpose, so that a run that rewrites can never pass.
 */
export const GOLDEN_CASES = {
  empty: [],
  "two-servers": [snap("compose_webapp_1"), snap("compose_webapp_2")],
  "several-backends": [
    snap("compose_webapp_1", { extraLabels: { "heig.lb.weight": "0" } }),
    snap("compose_webapp_2", { extraLabels: { "heig.lb.weight": "200" } }),
    snap("compose_api_1", {
      extraLabels: { "heig.lb.backend": "api", "heig.lb.port": "8080", "heig.lb.sticky": "true" },
    }),
    snap("compose_api_2", { extraLabels: { "heig.lb.backend": "api", "heig.lb.port": "8080" } }),
    snap("compose_broken_3", { extraLabels: { "heig.lb.port": "80\n  server evil 10.9.9.9:80" } }),
  ],
} as const;

describe("rendering templates/haproxy.cfg.hbs", () => {
  it.each(Object.keys(GOLDEN_CASES))("matches the golden file %s.cfg byte for byte", (name) => {
    const text = render(
      GOLDEN_CASES[name as keyof typeof GOLDEN_CASES],
      name === "several-backends" ? "admin:s3cr3t" : null,
    ).text;
    const file = path.join(root, "test/fixtures/golden", `${name}.cfg`);
    if (process.env.UPDATE_GOLDEN === "1") {
      writeFileSync(file, text);
      throw new Error(`rewrote ${name}.cfg: review the diff, then run the tests again without UPDATE_GOLDEN`);
    }
    expect(text).toBe(readFileSync(file, "utf8"));
  });

  it("keeps ha's bootstrap config equal to the render of no backends", () => {
    expect(readFileSync(path.join(root, "compose/ha/bootstrap.cfg"), "utf8")).toBe(render([]).text);
  });

  it("renders the same bytes and ids for the same state", () => {
    const a = render([snap("x_1"), snap("y_2")]);
    const b = render([snap("y_2"), snap("x_1")]);
    expect(b).toEqual(a);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.text).toContain(`description ha-sidecar-${a.configId}`);
  });

  it("keeps the config id when only members, addresses and weights change: the runtime API covers those", () => {
    const id = render([snap("x_1")]).configId;
    expect(render([]).configId).toBe(id);
    expect(render([snap("x_1"), snap("y_2")]).configId).toBe(id);
    expect(render([snap("x_1", { address: "10.9.9.9" })]).configId).toBe(id);
    expect(render([snap("x_1", { extraLabels: { "heig.lb.weight": "7", "heig.lb.port": "8080" } })]).configId).toBe(id);
  });

  it.each<[string, Parameters<typeof render>[0], string | null]>([
    ["a new backend", [snap("x_1"), snap("a_1", { extraLabels: { "heig.lb.backend": "api" } })], null],
    ["a sticky switch", [snap("x_1", { extraLabels: { "heig.lb.sticky": "true" } })], null],
    ["new stats credentials", [snap("x_1")], "ops:pw"],
  ])("changes the config id for a structural change: %s", (_what, snaps, auth) => {
    expect(render(snaps, auth).configId).not.toBe(render([snap("x_1")]).configId);
  });

  it("carries its server lines as data, default-server options folded in", () => {
    const r = render([snap("compose_webapp_1", { extraLabels: { "heig.lb.weight": "7" } })]);
    const line = r.servers.get("webapp/compose_webapp_1");
    expect(line).toMatchObject({
      backend: "webapp",
      name: "compose_webapp_1",
      address: "172.18.0.11",
      port: 3000,
      weight: 7,
    });
    expect(line!.options.join(" ")).toContain("inter 1s");
    expect(line!.options.slice(-3)).toEqual(["check", "weight", "7"]);
  });

  it("gives every server the id its name asks for, on its line, whatever the order servers arrived in", () => {
    const ids = (snaps: Parameters<typeof render>[0]): Record<string, number | null> =>
      Object.fromEntries([...render(snaps).servers].map(([k, l]) => [k, l.id]));
    const both = ids([snap("x_1"), snap("y_2")]);
    expect(both).toEqual({ "webapp/x_1": preferredServerId("x_1"), "webapp/y_2": preferredServerId("y_2") });
    expect(ids([snap("y_2"), snap("x_1")])).toEqual(both);
    // Another server coming or going leaves the others' ids alone.
    expect(ids([snap("y_2")])).toEqual({ "webapp/y_2": both["webapp/y_2"] });
    expect(render([snap("x_1")]).text).toContain(`server x_1 172.18.0.11:3000 id ${preferredServerId("x_1")} check`);
  });

  it("binds the runtime socket a replica's environment names, else the single replica's path", () => {
    expect(render([]).text).toContain(
      'stats socket "${HA_RUNTIME_SOCKET-/var/lib/ha-sidecar/run/admin.sock}" mode 660 gid 10100 level admin',
    );
  });

  it("never lets a hostile label reach the text", () => {
    const text = render(GOLDEN_CASES["several-backends"]).text;
    expect(text).not.toContain("evil");
    expect(text).not.toContain("compose_broken_3");
  });

  it("names the problem in a template that does not compile", () => {
    expect(() => compileTemplate("global\n{{#each services}}\n")).toThrow(TemplateError);
  });

  it("fails on a template that refers to a field the state does not have", () => {
    const bad = compileTemplate("global\n  description ha-sidecar-{{configId}}\n  {{nosuchfield.inner}}\n");
    expect(() => renderConfig(bad, buildDesiredState([], opts).state, paths)).toThrow(
      /template failed to render: .*not defined/,
    );
  });
});

describe("traffic lifecycle in the render", () => {
  it("puts slowstart on the server line, in ms, and keeps the config id (a runtime add carries it)", () => {
    const plain = render([snap("x_1")]);
    const r = render([snap("x_1"), snap("y_2", { extraLabels: { "heig.lb.slowstart": "30s" } })]);
    expect(r.text).toMatch(/^ {4}server y_2 172\.18\.0\.12:3000 id \d+ check slowstart 30000ms$/m);
    expect(r.text).toMatch(/^ {4}server x_1 172\.18\.0\.11:3000 id \d+ check$/m);
    expect(r.servers.get("webapp/y_2")!.options.slice(-3)).toEqual(["check", "slowstart", "30000ms"]);
    expect(r.configId).toBe(plain.configId);
  });

  it("renders a server held until it listens in maintenance, under the id it keeps once routed, with the same config id", () => {
    const snaps = [snap("x_1"), snap("y_2")];
    const routed = render(snaps);
    const state = buildDesiredState(snaps, {
      ...opts,
      notListening: new Set([snaps[1]!.id]),
      held: new Set([snaps[1]!.id]),
    });
    expect(state.state.services[0]!.servers.map((b) => b.name)).toEqual(["x_1"]);
    expect(state.excluded.map((e) => [e.name, e.reason])).toEqual([["y_2", "not-listening"]]);
    const held = renderConfig(template, state.state, { ...paths, statsAuth: null });
    expect(held.text).toMatch(/^ {4}server y_2 172\.18\.0\.12:3000 id \d+ check disabled$/m);
    expect(held.held).toEqual(new Set(["webapp/y_2"]));
    expect(held.servers.get("webapp/y_2")!.id).toBe(routed.servers.get("webapp/y_2")!.id);
    expect(held.configId).toBe(routed.configId);
    expect(routed.held).toBeUndefined();
  });

  it("holds nothing in a backend that does not route yet, and changes no backend's structure", () => {
    // A backend made for a held server alone would be a reload ahead of time (and another if it
    // never listens); a held sticky member would change its backend's structure.
    const api = snap("api_1", { extraLabels: { "heig.lb.backend": "api" } });
    const sticky = snap("x_2", { extraLabels: { "heig.lb.sticky": "true" } });
    const ids = new Set([api.id, sticky.id]);
    const state = buildDesiredState([snap("x_1"), api, sticky], { ...opts, notListening: ids, held: ids }).state;
    expect(state.held).toEqual([
      { name: "webapp", sticky: false, servers: [expect.objectContaining({ name: "x_2", held: true })] },
    ]);
    const held = renderConfig(template, state, { ...paths, statsAuth: null });
    expect(held.text).not.toMatch(/^backend api$/m);
    expect(held.text).not.toContain("cookie SERVERID");
    expect(held.configId).toBe(render([snap("x_1")]).configId);
  });

  it("does not hold a server an operator put in maintenance: it is left out until it listens", () => {
    const snaps = [snap("x_1"), snap("y_2")];
    const state = buildDesiredState(snaps, {
      ...opts,
      notListening: new Set([snaps[1]!.id]),
      held: new Set([snaps[1]!.id]),
      maintenance: new Set(["y_2"]),
    });
    expect(state.state.held).toBeUndefined();
    expect(state.excluded.map((e) => [e.name, e.reason])).toEqual([["y_2", "not-listening"]]);
  });

  it("carries each server's drain time beside the text, not in it", () => {
    const r = render([snap("x_1", { extraLabels: { "heig.lb.drain": "2m" } }), snap("y_2")]);
    expect(r.drainMs).toEqual(new Map([["webapp/x_1", 120_000]]));
    expect(r.text).not.toMatch(/drain/);
  });

  it("renders a 90/10 canary: two compose services in one backend, each with its weight", () => {
    const r = render([
      snap("app_stable_1", { group: "stable", extraLabels: { "heig.lb.backend": "shop", "heig.lb.weight": "90" } }),
      snap("app_canary_1", { group: "canary", extraLabels: { "heig.lb.backend": "shop", "heig.lb.weight": "10" } }),
    ]);
    expect([...r.servers.values()].map((l) => [l.backend, l.name, l.weight])).toEqual([
      ["shop", "app_canary_1", 10],
      ["shop", "app_stable_1", 90],
    ]);
    expect(r.text).toMatch(/use_backend shop if/);
  });
});
