import type { RunningServer } from "../../sidecar/haproxy/parse";
import {
  addServerCommands,
  deleteServerCommands,
  drainsOver,
  idMismatches,
  planRuntime,
  readyCommands,
  runtimeDrift,
  withReadied,
  type RuntimeOp,
} from "../../sidecar/apply/runtime-plan";
import type { ServerLine } from "../../sidecar/render/server-lines";

/** `name@address:port/weight#id`, in backend `webapp` (no `#id`: a line without one). */
function parse(spec: string): { name: string; address: string; port: number; weight: number; id: number | null } {
  const m = /^(\w+)@([\d.]+):(\d+)(?:\/(\d+))?(?:#(\d+))?$/.exec(spec)!;
  return {
    name: m[1]!,
    address: m[2]!,
    port: Number(m[3]),
    weight: Number(m[4] ?? 1),
    id: m[5] === undefined ? null : Number(m[5]),
  };
}
const wanted = (...specs: string[]): Map<string, ServerLine> =>
  new Map(
    specs.map((s) => {
      const p = parse(s);
      return [`webapp/${p.name}`, { backend: "webapp", ...p, options: ["check"] }];
    }),
  );
const running = (...specs: string[]): Map<string, RunningServer> =>
  new Map(
    specs.map((spec) => {
      const maint = spec.endsWith("!maint");
      const drain = spec.endsWith("!drain");
      const p = parse(spec.replace(/!\w+$/, ""));
      return [`webapp/${p.name}`, { backend: "webapp", ...p, maint, drain }];
    }),
  );
/** One op as a short text, to compare whole plans at a glance. */
const text = (op: RuntimeOp): string =>
  op.kind === "add"
    ? `add ${op.line.name}`
    : op.kind === "set-addr"
      ? `addr ${op.ref.server} ${op.address}:${op.port}`
      : op.kind === "set-weight"
        ? `weight ${op.ref.server} ${op.weight}`
        : `${op.kind} ${op.ref.server}`;

describe("planRuntime", () => {
  it.each([
    { case: "nothing to do", want: ["a@10.0.0.1:3000"], run: ["a@10.0.0.1:3000"], plan: [] },
    { case: "a new server", want: ["a@10.0.0.1:3000", "b@10.0.0.2:3000"], run: ["a@10.0.0.1:3000"], plan: ["add b"] },
    {
      case: "a server leaves: drained, then deleted",
      want: ["a@10.0.0.1:3000"],
      run: ["a@10.0.0.1:3000", "b@10.0.0.2:3000"],
      plan: ["drain b", "delete b"],
    },
    {
      case: "one already in maintenance is only deleted",
      want: ["a@10.0.0.1:3000"],
      run: ["a@10.0.0.1:3000", "b@10.0.0.2:3000!maint"],
      plan: ["delete b"],
    },
    {
      // A rolling update's pass: the last old server leaves as its replacements come in. The
      // replacements first, or the backend is empty between the drain and the add (503s).
      case: "the last servers replaced: additions before the drain",
      want: ["n1@10.0.0.5:3000", "n2@10.0.0.6:3000"],
      run: ["o3@10.0.0.3:3000"],
      plan: ["add n1", "add n2", "drain o3", "delete o3"],
    },
    {
      case: "changes in place come first, a drained one wanted again routes again",
      want: ["a@10.0.0.1:3000", "b@10.0.0.9:3001/3", "c@10.0.0.3:3000"],
      run: ["a@10.0.0.1:3000!drain", "b@10.0.0.2:3000", "d@10.0.0.4:3000"],
      plan: ["ready a", "addr b 10.0.0.9:3001", "weight b 3", "add c", "drain d", "delete d"],
    },
  ])("$case", ({ want, run, plan }) => {
    expect(planRuntime(wanted(...want), running(...run)).map(text)).toEqual(plan);
  });
});

describe("runtimeDrift", () => {
  it.each([
    { case: "in step", want: ["a@10.0.0.1:3000"], run: ["a@10.0.0.1:3000"], off: [] },
    {
      case: "a leaver still being deleted may linger in maintenance",
      want: [],
      run: ["b@10.0.0.2:3000!maint"],
      off: [],
    },
    { case: "a leaver still routing", want: [], run: ["b@10.0.0.2:3000"], off: ["webapp/b"] },
    { case: "a missing server", want: ["a@10.0.0.1:3000"], run: [], off: ["webapp/a"] },
    { case: "a wrong weight", want: ["a@10.0.0.1:3000/5"], run: ["a@10.0.0.1:3000"], off: ["webapp/a"] },
    {
      case: "a wanted one left in drain",
      want: ["a@10.0.0.1:3000"],
      run: ["a@10.0.0.1:3000!drain"],
      off: ["webapp/a"],
    },
  ])("$case", ({ want, run, off }) => {
    expect(runtimeDrift(wanted(...want), running(...run))).toEqual(off);
  });
});

describe("idMismatches", () => {
  it.each([
    { case: "the ids the lines give", want: ["a@10.0.0.1:3000#7"], run: ["a@10.0.0.1:3000#7"], off: [], drift: [] },
    {
      case: "a line without id takes any",
      want: ["a@10.0.0.1:3000"],
      run: ["a@10.0.0.1:3000#3"],
      off: [],
      drift: [],
    },
    {
      case: "a server added before ids (HAProxy numbered it)",
      want: ["a@10.0.0.1:3000#70039", "b@10.0.0.2:3000#8"],
      run: ["a@10.0.0.1:3000#1", "b@10.0.0.2:3000#8"],
      off: ["webapp/a"],
      drift: ["webapp/a"],
    },
    {
      case: "a server not running yet is an addition, not a mismatch",
      want: ["a@10.0.0.1:3000#7"],
      run: [],
      off: [],
      drift: ["webapp/a"],
    },
  ])("$case", ({ want, run, off, drift }) => {
    expect(idMismatches(wanted(...want), running(...run))).toEqual(off);
    expect(runtimeDrift(wanted(...want), running(...run))).toEqual(drift);
  });
});

describe("addServerCommands", () => {
  const line = (options: string[]): ServerLine => ({
    backend: "webapp",
    name: "a",
    address: "10.0.0.1",
    port: 3000,
    options,
    weight: 1,
    id: null,
  });
  it.each([
    {
      case: "checked, no slow start: checks on, enabled, UP at once",
      options: ["inter", "1s", "check"],
      commands: [
        "add server webapp/a 10.0.0.1:3000 inter 1s check",
        "enable health webapp/a",
        "enable server webapp/a",
      ],
    },
    {
      case: "no check: enabled",
      options: ["weight", "5"],
      commands: ["add server webapp/a 10.0.0.1:3000 weight 5", "enable server webapp/a"],
    },
    {
      case: "slowstart 0 is no slow start",
      options: ["check", "slowstart", "0ms"],
      commands: [
        "add server webapp/a 10.0.0.1:3000 check slowstart 0ms",
        "enable health webapp/a",
        "enable server webapp/a",
      ],
    },
    {
      // HAProxy ramps only a server it sees go from DOWN to UP.
      case: "checked slow starter: DOWN while in maintenance, out of it, then UP: the ramp starts",
      options: ["check", "slowstart", "30000ms"],
      commands: [
        "add server webapp/a 10.0.0.1:3000 check slowstart 30000ms",
        "enable health webapp/a",
        "set server webapp/a health down",
        "set server webapp/a state ready",
        "set server webapp/a health up",
      ],
    },
    {
      case: "a slow starter without checks has no health to set: enabled",
      options: ["slowstart", "30000ms"],
      commands: ["add server webapp/a 10.0.0.1:3000 slowstart 30000ms", "enable server webapp/a"],
    },
  ])("$case", ({ options, commands }) => {
    const got = addServerCommands(line(options));
    expect(got.map((c) => c.command)).toEqual(commands);
    expect(got[0]!.success).toEqual(/^New server registered\.$/);
    expect(got.slice(1).every((c) => c.success === "empty")).toBe(true);
  });
});

describe("readyCommands and withReadied: a server held until it listens", () => {
  const line = (name: string, options: string[]): ServerLine => ({
    backend: "webapp",
    name,
    address: "10.0.0.1",
    port: 3000,
    options,
    weight: 1,
    id: 7,
  });

  it("takes it out of maintenance as an add would: UP at once, or through DOWN for a slow starter", () => {
    expect(readyCommands(line("a", ["check", "disabled"])).map((c) => c.command)).toEqual(["enable server webapp/a"]);
    expect(readyCommands(line("a", ["check", "slowstart", "30000ms", "disabled"])).map((c) => c.command)).toEqual([
      "set server webapp/a health down",
      "set server webapp/a state ready",
      "set server webapp/a health up",
    ]);
    // Added held, a line is added in maintenance with its checks on, and nothing more.
    expect(addServerCommands(line("a", ["check", "disabled"])).map((c) => c.command)).toEqual([
      "add server webapp/a 10.0.0.1:3000 check disabled",
      "enable health webapp/a",
    ]);
  });

  it("takes a held line readied early as ready, and nothing else: not an operator's maintenance", () => {
    const servers = new Map([
      ["webapp/held", line("held", ["check", "disabled"])],
      ["webapp/maint", line("maint", ["check", "disabled"])],
    ]);
    const rendered = { servers, held: new Set(["webapp/held"]) };
    const out = withReadied(rendered, new Set(["webapp/held", "webapp/maint", "webapp/gone"]));
    expect(out.get("webapp/held")!.options).toEqual(["check"]);
    expect(out.get("webapp/maint")!.options).toEqual(["check", "disabled"]);
    expect([...out.keys()]).toEqual(["webapp/held", "webapp/maint"]);
    // Nothing readied, or nothing held: the lines themselves.
    expect(withReadied(rendered, new Set())).toBe(servers);
    expect(withReadied({ servers }, new Set(["webapp/held"]))).toBe(servers);
    // Planned: the held line readied early that routes already is left as it is.
    const running = new Map<string, RunningServer>([
      [
        "webapp/held",
        {
          backend: "webapp",
          name: "held",
          id: 7,
          address: "10.0.0.1",
          port: 3000,
          weight: 1,
          maint: false,
          drain: false,
        },
      ],
      [
        "webapp/maint",
        {
          backend: "webapp",
          name: "maint",
          id: 7,
          address: "10.0.0.1",
          port: 3000,
          weight: 1,
          maint: true,
          drain: false,
        },
      ],
    ]);
    expect(planRuntime(out, running)).toEqual([]);
    expect(planRuntime(servers, running).map(text)).toEqual(["drain held"]);
  });
});

describe("deleteServerCommands", () => {
  it.each([
    { force: false, commands: ["del server webapp/b"] },
    { force: true, commands: ["shutdown sessions server webapp/b", "del server webapp/b"] },
  ])("force=$force", ({ force, commands }) => {
    expect(deleteServerCommands({ backend: "webapp", server: "b" }, force).map((c) => c.command)).toEqual(commands);
  });
});

describe("drainsOver", () => {
  const since = new Map([
    ["webapp/default", 0],
    ["webapp/long", 0],
    ["webapp/zero", 0],
  ]);
  const own = new Map([
    ["webapp/long", 60_000],
    ["webapp/zero", 0],
  ]);
  it.each([
    { now: 0, over: ["webapp/zero"] },
    { now: 9_999, over: ["webapp/zero"] },
    { now: 10_000, over: ["webapp/default", "webapp/zero"] },
    { now: 59_999, over: ["webapp/default", "webapp/zero"] },
    { now: 60_000, over: ["webapp/default", "webapp/long", "webapp/zero"] },
  ])("at $now ms: $over", ({ now, over }) => {
    expect([...drainsOver(since, own, 10_000, now)].sort()).toEqual(over);
  });
});

describe("planRuntime: a 90/10 canary", () => {
  it("adds both services' servers with their own weights, and changes one in place", () => {
    const canary = new Map<string, ServerLine>([
      [
        "shop/canary_1",
        {
          backend: "shop",
          name: "canary_1",
          address: "10.0.0.2",
          port: 3000,
          options: ["check", "weight", "10"],
          weight: 10,
          id: null,
        },
      ],
      [
        "shop/stable_1",
        {
          backend: "shop",
          name: "stable_1",
          address: "10.0.0.1",
          port: 3000,
          options: ["check", "weight", "90"],
          weight: 90,
          id: null,
        },
      ],
    ]);
    expect(
      planRuntime(canary, new Map()).map((op) =>
        op.kind === "add" ? `add ${op.line.name} ${op.line.weight}` : op.kind,
      ),
    ).toEqual(["add canary_1 10", "add stable_1 90"]);
    const before = new Map<string, RunningServer>([
      [
        "shop/canary_1",
        {
          backend: "shop",
          name: "canary_1",
          id: null,
          address: "10.0.0.2",
          port: 3000,
          weight: 50,
          maint: false,
          drain: false,
        },
      ],
      [
        "shop/stable_1",
        {
          backend: "shop",
          name: "stable_1",
          id: null,
          address: "10.0.0.1",
          port: 3000,
          weight: 90,
          maint: false,
          drain: false,
        },
      ],
    ]);
    expect(planRuntime(canary, before)).toEqual([
      { kind: "set-weight", ref: { backend: "shop", server: "canary_1" }, weight: 10 },
    ]);
  });
});

describe("planRuntime: maintenance (sidecar maint)", () => {
  const line = (name: string, maint: boolean): [string, ServerLine] => [
    `webapp/${name}`,
    {
      backend: "webapp",
      name,
      address: "10.0.0.1",
      port: 3000,
      options: maint ? ["check", "disabled"] : ["check"],
      weight: 1,
      id: null,
    },
  ];
  const run = (name: string, maint: boolean): [string, RunningServer] => [
    `webapp/${name}`,
    { backend: "webapp", name, id: null, address: "10.0.0.1", port: 3000, weight: 1, maint, drain: false },
  ];
  it.each([
    { case: "put in maintenance: drained, kept", want: [line("a", true)], run: [run("a", false)], plan: ["drain a"] },
    { case: "already in maintenance: nothing", want: [line("a", true)], run: [run("a", true)], plan: [] },
    { case: "out of maintenance: ready", want: [line("a", false)], run: [run("a", true)], plan: ["ready a"] },
    { case: "new and in maintenance: added, left in it", want: [line("a", true)], run: [], plan: ["add a"] },
  ])("$case", ({ want, run: r, plan }) => {
    const w = new Map(want);
    const before = new Map(r);
    expect(planRuntime(w, before).map(text)).toEqual(plan);
    const after = new Map(
      want.map(([k, l]) => [k, { ...before.get(k)!, ...run(l.name, l.options.includes("disabled"))[1] }]),
    );
    expect(runtimeDrift(w, after)).toEqual([]);
  });

  it("says a server wanted in maintenance that routes is off, and the other way round", () => {
    expect(runtimeDrift(new Map([line("a", true)]), new Map([run("a", false)]))).toEqual(["webapp/a"]);
    expect(runtimeDrift(new Map([line("a", false)]), new Map([run("a", true)]))).toEqual(["webapp/a"]);
  });

  it("adds one in maintenance with its checks on and leaves it there", () => {
    expect(addServerCommands(line("a", true)[1]).map((c) => c.command)).toEqual([
      "add server webapp/a 10.0.0.1:3000 check disabled",
      "enable health webapp/a",
    ]);
  });
});
