import {
  applyMaintenance,
  inMaintenance,
  parseMaintenanceFile,
  parseMaintenanceRequest,
} from "../../sidecar/model/maintenance";
import { buildDesiredState } from "../../sidecar/model/desired-state";
import { renderConfig, compileTemplate } from "../../sidecar/render/render";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { snap } from "./fixtures";

describe("parseMaintenanceRequest", () => {
  it("reads a request", () => {
    expect(parseMaintenanceRequest('{"container":"compose_webapp_1","on":true,"by":"alice"}')).toEqual({
      container: "compose_webapp_1",
      on: true,
      by: "alice",
    });
  });
  it.each([
    ["not json", /JSON/],
    ["[]", /object/],
    ['{"container":"a b","on":true,"by":"x"}', /container/],
    ['{"container":"a","on":"yes","by":"x"}', /on: true or false/],
    ['{"container":"a","on":true,"by":""}', /by/],
    ['{"container":"a","on":true,"by":"x","evil":1}', /unknown field evil/],
    ['{"container":"a\\nserver x","on":true,"by":"x"}', /container/],
  ])("refuses %s", (body, message) => {
    expect(parseMaintenanceRequest(body)).toMatch(message);
  });
});

describe("applyMaintenance", () => {
  const a = { container: "a", by: "alice", since: 1 };
  it.each([
    {
      case: "on",
      entries: [],
      req: { container: "a", on: true, by: "alice" },
      after: [{ ...a, since: 5 }],
      changed: true,
    },
    {
      case: "on again keeps the first",
      entries: [a],
      req: { container: "a", on: true, by: "bob" },
      after: [a],
      changed: false,
    },
    { case: "off", entries: [a], req: { container: "a", on: false, by: "bob" }, after: [], changed: true },
    { case: "off when not on", entries: [], req: { container: "a", on: false, by: "bob" }, after: [], changed: false },
  ])("$case", ({ entries, req, after, changed }) => {
    expect(applyMaintenance(entries, req, 5)).toEqual({ entries: after, changed });
  });
});

describe("parseMaintenanceFile", () => {
  it("keeps the good entries and notes the others", () => {
    const text = JSON.stringify([
      { container: "b", by: "alice", since: 2 },
      { container: "a", by: "bob", since: 1 },
      { container: "a", by: "bob", since: 3 },
      { container: "x y", by: "bob", since: 1 },
      "junk",
    ]);
    const { entries, notes } = parseMaintenanceFile(text);
    expect(entries).toEqual([
      { container: "a", by: "bob", since: 1 },
      { container: "b", by: "alice", since: 2 },
    ]);
    expect(notes).toHaveLength(3);
  });
  it.each(["", "{}", "nope"])("reads %j as empty, with a note", (text) => {
    expect(parseMaintenanceFile(text)).toEqual({ entries: [], notes: [expect.any(String)] });
  });
});

describe("inMaintenance", () => {
  const backend = { name: "/compose_webapp_1", serverName: "compose_webapp_1", id: "0123456789abcdef0123" };
  it.each([
    [["compose_webapp_1"], true],
    [["0123456789ab"], true],
    [["0123456789a"], false],
    [["compose_webapp_2"], false],
    [[], false],
  ])("%j → %s", (names, yes) => {
    expect(inMaintenance(new Set(names), backend)).toBe(yes);
  });
});

describe("maintenance in the desired state and the render", () => {
  const opts = { labelPrefix: "heig.lb", defaultService: "webapp", draining: new Set<string>() };
  it("keeps a container in maintenance, its line disabled, and routes the others", () => {
    const { state } = buildDesiredState([snap("c_1"), snap("c_2")], { ...opts, maintenance: new Set(["c_1"]) });
    expect(state.services[0]!.servers.map((b) => [b.name, b.maint])).toEqual([
      ["c_1", true],
      ["c_2", undefined],
    ]);
    const template = compileTemplate(readFileSync(path.resolve(__dirname, "../../templates/haproxy.cfg.hbs"), "utf8"));
    const paths = { runtimeSocket: "/s", serverStateFile: "/f" };
    const r = renderConfig(template, state, paths);
    expect(r.text).toMatch(/^ {4}server c_1 172\.18\.0\.11:3000 id \d+ check disabled$/m);
    expect(r.text).toMatch(/^ {4}server c_2 172\.18\.0\.12:3000 id \d+ check$/m);
    // The runtime API puts one in and out of maintenance: no reload.
    const plain = renderConfig(template, buildDesiredState([snap("c_1"), snap("c_2")], opts).state, paths);
    expect(r.configId).toBe(plain.configId);
  });
});
