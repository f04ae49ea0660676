/**
 * What Docker sends, checked at the boundary (issue 18): event lines and listing entries whose
 * fields are not of the type the mappers read are skipped with a warning, never a crash.
 */
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { DockerodeSource } from "../../sidecar/docker/dockerode-source";
import { mapContainerSummary, parseContainerSummary, parseDockerEvent } from "../../sidecar/docker/map";
import type { SourceSignal } from "../../sidecar/source/backend-source";
import { capturingLogger } from "./status-fixture";

describe("parseDockerEvent (pure)", () => {
  it.each<[unknown, unknown]>([
    [
      {
        Type: "container",
        Action: "start",
        Actor: { ID: "abc", Attributes: { name: "web_1" } },
        time: 1,
        scope: "local",
      },
      { Type: "container", Action: "start", Actor: { ID: "abc", Attributes: { name: "web_1" } } },
    ],
    [{ Type: "network" }, { Type: "network", Action: undefined }],
    [
      { Action: "kill", Actor: null },
      { Type: undefined, Action: "kill" },
    ],
    [{ Actor: {} }, { Type: undefined, Action: undefined, Actor: { ID: undefined, Attributes: undefined } }],
  ])("keeps the fields the mappers read: %j", (v, expected) => expect(parseDockerEvent(v)).toEqual(expected));

  it.each<[unknown, string]>([
    [null, "event is null, not an object"],
    [[], "event is an array, not an object"],
    ["start", "event is a string, not an object"],
    [{ Type: "container", Action: 5 }, "Action is a number, not a string"],
    [{ Type: ["container"] }, "Type is an array, not a string"],
    [{ Actor: "abc" }, "Actor is a string, not an object"],
    [{ Actor: { ID: 12 } }, "Actor.ID is a number, not a string"],
    [{ Actor: { ID: "a", Attributes: [] } }, "Actor.Attributes is an array, not a map"],
    [{ Actor: { ID: "a", Attributes: { signal: 9 } } }, "Actor.Attributes.signal is a number, not a string"],
  ])("refuses %j", (v, problem) => expect(parseDockerEvent(v)).toBe(problem));
});

describe("parseContainerSummary (pure)", () => {
  const good = {
    Id: "0123456789abcdef",
    Names: ["/web_1"],
    State: "running",
    Status: "Up 3 seconds",
    Labels: { "heig.lb.enable": "true" },
    NetworkSettings: { Networks: { heig: { IPAddress: "172.18.0.4", Gateway: "172.18.0.1" } } },
    Mounts: [],
  };

  it("keeps the fields the mapper reads", () => {
    expect(parseContainerSummary(good)).toEqual({
      Id: "0123456789abcdef",
      Names: ["/web_1"],
      State: "running",
      Status: "Up 3 seconds",
      Labels: { "heig.lb.enable": "true" },
      NetworkSettings: { Networks: { heig: { IPAddress: "172.18.0.4" } } },
    });
    expect(parseContainerSummary({ Id: "abc", Labels: null, NetworkSettings: null })).toEqual({
      Id: "abc",
      Names: undefined,
      State: undefined,
      Status: undefined,
      Labels: null,
      NetworkSettings: { Networks: {} },
    });
  });

  it.each<[unknown, string]>([
    [5, "container is a number, not an object"],
    [{ ...good, Id: 5 }, "Id 5 is not a container id"],
    [{ ...good, Id: "abc\nserver evil" }, 'Id "abc\\nserver evil" is not a container id'],
    [{ ...good, Names: "/web_1" }, "container 0123456789ab: Names is not a list of strings"],
    [{ ...good, Names: [1] }, "container 0123456789ab: Names is not a list of strings"],
    [{ ...good, State: true }, "container 0123456789ab: State is a boolean, not a string"],
    [
      { ...good, Labels: { "heig.lb.port": 3000 } },
      "container 0123456789ab: Labels.heig.lb.port is a number, not a string",
    ],
    [
      { ...good, NetworkSettings: { Networks: [] } },
      "container 0123456789ab: NetworkSettings.Networks is an array, not a map",
    ],
    [
      { ...good, NetworkSettings: { Networks: { heig: "x" } } },
      "container 0123456789ab: network heig is a string, not an object",
    ],
    [
      { ...good, NetworkSettings: { Networks: { heig: { IPAddress: 1 } } } },
      "container 0123456789ab: network heig: IPAddress is a number, not a string",
    ],
  ])("refuses %j", (v, problem) => expect(parseContainerSummary(v)).toBe(problem));

  it.each(["172.18.0.4\n    server evil 10.9.9.9:80", "172.18.0.4 backup", "", "localhost"])(
    "maps no address from IPAddress %j",
    (IPAddress) => {
      expect(
        mapContainerSummary({ ...good, NetworkSettings: { Networks: { heig: { IPAddress } } } }, "heig").address,
      ).toBeNull();
    },
  );
});

describe("the Docker source, given a hostile event stream and listing", () => {
  it("skips event lines of the wrong shape with a warning, and follows the good ones", async () => {
    const stream = new PassThrough();
    const docker = { getEvents: async () => stream, ping: async () => "OK" } as unknown as Docker;
    const { log, logged } = capturingLogger();
    const signals: SourceSignal[] = [];
    const abort = new AbortController();
    new DockerodeSource(docker, "heig", "heig.lb", log, { callTimeoutMs: 1_000, livenessMs: 60_000 }).watch(
      (s) => signals.push(s),
      abort.signal,
    );
    await new Promise((r) => setImmediate(r));
    // Each of these ended the process on the old code (a TypeError in a stream's data handler).
    stream.write('null\n{"Type":"container","Action":5,"Actor":{"ID":"c1"}}\n');
    stream.write('{"Type":"container","Action":"kill","Actor":{"ID":"c1","Attributes":{"signal":9}}}\n');
    stream.write('{"Type":"container","Action":"start","Actor":{"ID":"c2","Attributes":{"name":"web_2"}}}\n');
    await new Promise((r) => setImmediate(r));
    abort.abort();
    expect(signals).toEqual([
      { kind: "connected" },
      { kind: "hint", hint: { kind: "started", id: "c2", cause: "start" } },
    ]);
    expect(logged.lines.filter((l) => l["msg"] === "malformed docker event skipped").map((l) => l["problem"])).toEqual([
      "event is null, not an object",
      "Action is a number, not a string",
      "Actor.Attributes.signal is a number, not a string",
    ]);
  });

  it("skips a listing entry of the wrong shape, lists the others, and fails a listing that is no list", async () => {
    const { log, logged } = capturingLogger();
    let answer: unknown = [
      { Id: "c1", Names: ["/web_1"], State: "running", Labels: { "heig.lb.enable": "true" } },
      { Id: "c2", Names: "/web_2" },
      { Id: ["c3"] },
    ];
    const docker = { listContainers: async () => answer } as unknown as Docker;
    const source = new DockerodeSource(docker, "heig", "heig.lb", log);
    expect((await source.list()).map((s) => s.name)).toEqual(["web_1"]);
    expect(logged.lines.find((l) => l["msg"] === "docker listing entries skipped")).toMatchObject({
      skipped: 2,
      problems: ["container c2: Names is not a list of strings", 'Id ["c3"] is not a container id'],
    });
    answer = { message: "page not found" };
    await expect(source.list()).rejects.toThrow("docker: the container listing is not a list");
  });
});
