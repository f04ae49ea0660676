import {
  errorBody,
  keptLabels,
  reduceContainerInspect,
  reduceContainerList,
  reduceEvent,
  reduceServices,
  reduceTasks,
  reloadTargetOf,
  stackOf,
  UpstreamShapeError,
} from "../../sidecar/docker-proxy/reduce";

const POLICY = { labelPrefix: "heig.lb", reloadSelector: { key: "heig.lb.role", value: "haproxy" } };
const HS = { key: "com.docker.compose.project", value: "hs" };
const ID1 = "1".repeat(64);

describe("keptLabels", () => {
  it.each<[string, unknown, Record<string, string>]>([
    [
      "ours, compose's and the stack's; never another's",
      {
        "heig.lb.enable": "true",
        "heig.lb.port": "3000",
        "heig.lb.role": "haproxy",
        "com.docker.compose.project": "hs",
        "com.docker.compose.service": "webapp",
        "com.docker.compose.oneoff": "False",
        "com.docker.stack.namespace": "heig",
        "com.docker.compose.config-hash": "abc",
        "heig.lbx": "no",
        "com.example.db-password": "SECRET",
      },
      {
        "heig.lb.enable": "true",
        "heig.lb.port": "3000",
        "heig.lb.role": "haproxy",
        "com.docker.compose.project": "hs",
        "com.docker.compose.service": "webapp",
        "com.docker.compose.oneoff": "False",
        "com.docker.stack.namespace": "heig",
      },
    ],
    ["values that are no strings", { "heig.lb.port": 3000, "heig.lb.enable": ["true"] }, {}],
    ["no labels at all", null, {}],
    ["a list instead of a map", ["heig.lb.enable"], {}],
  ])("%s", (_, labels, expected) => {
    expect(keptLabels(labels, POLICY)).toEqual(expected);
  });

  it("keeps the selector's key when it is outside the prefix", () => {
    const opts = { ...POLICY, reloadSelector: { key: "lb-role", value: "haproxy" } };
    expect(keptLabels({ "lb-role": "haproxy", other: "x" }, opts)).toEqual({ "lb-role": "haproxy" });
  });
});

describe("reduceContainerList", () => {
  it("keeps id, names, state, status, our labels and each network's address; drops the rest", () => {
    const docker = [
      {
        Id: ID1,
        Names: ["/hs_webapp_1"],
        Image: "ha-sidecar/webapp",
        Command: "node app.js --token SECRET",
        State: "running",
        Status: "Up 3 seconds (healthy)",
        Labels: { "heig.lb.enable": "true", "com.example.password": "SECRET" },
        Mounts: [{ Source: "/SECRET" }],
        HostConfig: { NetworkMode: "heig" },
        NetworkSettings: {
          Networks: {
            heig: { IPAddress: "172.20.0.5", MacAddress: "02:42", Aliases: ["SECRET"] },
            other: { IPAddress: "10.0.0.5" },
          },
        },
      },
    ];
    expect(reduceContainerList(docker, POLICY)).toEqual([
      {
        Id: ID1,
        Names: ["/hs_webapp_1"],
        State: "running",
        Status: "Up 3 seconds (healthy)",
        Labels: { "heig.lb.enable": "true" },
        NetworkSettings: { Networks: { heig: { IPAddress: "172.20.0.5" }, other: { IPAddress: "10.0.0.5" } } },
      },
    ]);
  });

  it.each<[string, unknown, unknown[]]>([
    ["an item without an id is dropped", [{ Names: ["/x"] }, "x", null], []],
    [
      "fields of the wrong type are left out",
      [{ Id: "a", Names: "x", State: 1, Labels: "x", NetworkSettings: { Networks: [] } }],
      [{ Id: "a", Labels: {}, NetworkSettings: { Networks: null } }],
    ],
  ])("%s", (_, docker, expected) => {
    expect(JSON.parse(JSON.stringify(reduceContainerList(docker, POLICY)))).toEqual(expected);
  });

  it.each([{}, "x", null])("refuses %j (not a list)", (docker) => {
    expect(() => reduceContainerList(docker, POLICY)).toThrow(UpstreamShapeError);
  });
});

describe("reduceContainerInspect", () => {
  const inspect = (labels: Record<string, string>) => ({
    Id: ID1,
    Name: "/hs_sidecar_1",
    Config: { Env: ["SERF_RPC_AUTH=SECRET"], Cmd: ["SECRET"], Labels: labels },
    HostConfig: { Binds: ["/SECRET:/x"] },
    Mounts: [],
  });

  it.each<[string, Record<string, string>, typeof HS | null, unknown]>([
    [
      "of this stack: id, name and the labels the sidecar reads",
      { ...Object.fromEntries([[HS.key, HS.value]]), "com.example.token": "SECRET" },
      HS,
      { Id: ID1, Name: "/hs_sidecar_1", Config: { Labels: { [HS.key]: HS.value } } },
    ],
    ["of another stack: not found", { [HS.key]: "other" }, HS, null],
    ["of no stack, when the proxy has one: not found", {}, HS, null],
    [
      "when the proxy knows no stack: reduced all the same",
      { x: "SECRET" },
      null,
      { Id: ID1, Name: "/hs_sidecar_1", Config: { Labels: {} } },
    ],
  ])("%s", (_, labels, stack, expected) => {
    expect(reduceContainerInspect(inspect(labels), { ...POLICY, stack })).toEqual(expected);
  });

  it("refuses an answer without an id", () => {
    expect(() => reduceContainerInspect({ Config: {} }, { ...POLICY, stack: null })).toThrow(UpstreamShapeError);
  });
});

describe("reduceEvent", () => {
  const ours = {
    "heig.lb.enable": "true",
    "com.docker.compose.service": "webapp",
    image: "x",
    "com.example.pw": "SECRET",
  };
  const event = (Type: string, Action: string, Attributes: Record<string, string>, ID = ID1) => ({
    status: Action,
    id: ID,
    from: "image",
    Type,
    Action,
    Actor: { ID, Attributes },
    scope: "local",
    time: 1700000000,
    timeNano: 1700000000123456800,
  });
  const out = (Type: string, Action: string, Attributes: Record<string, string>, ID = ID1) => ({
    Type,
    Action,
    Actor: { ID, Attributes },
    time: 1700000000,
    timeNano: 1700000000123456800,
  });

  it.each<[string, unknown, unknown]>([
    [
      "a backend's kill: its name, signal and our labels",
      event("container", "kill", { ...ours, name: "hs_webapp_1", signal: "15" }),
      out("container", "kill", {
        name: "hs_webapp_1",
        signal: "15",
        "heig.lb.enable": "true",
        "com.docker.compose.service": "webapp",
      }),
    ],
    [
      "a backend's creation: the labels a burst is judged by",
      event("container", "create", { ...ours, "heig.lb.backend": "api", "com.docker.compose.oneoff": "False" }),
      out("container", "create", {
        "heig.lb.enable": "true",
        "heig.lb.backend": "api",
        "com.docker.compose.service": "webapp",
        "com.docker.compose.oneoff": "False",
      }),
    ],
    [
      "a health status",
      event("container", "health_status: healthy", ours),
      out("container", "health_status: healthy", { "heig.lb.enable": "true", "com.docker.compose.service": "webapp" }),
    ],
    [
      "this stack's haproxy starting",
      event("container", "start", { "heig.lb.role": "haproxy", name: "hs_ha_1" }),
      out("container", "start", { name: "hs_ha_1", "heig.lb.role": "haproxy" }),
    ],
    [
      "a swarm task's container dying",
      event("container", "die", {
        "com.docker.swarm.task.id": "t1",
        "com.docker.stack.namespace": "heig",
        exitCode: "1",
      }),
      out("container", "die", { "com.docker.swarm.task.id": "t1", "com.docker.stack.namespace": "heig" }),
    ],
    [
      "a network connect: the network's name and the container",
      event("network", "connect", { name: "heig", container: ID1, type: "bridge" }, "n1"),
      out("network", "connect", { name: "heig", container: ID1 }, "n1"),
    ],
    [
      "a service update: its name",
      event("service", "update", { name: "heig_webapp", "updatestate.new": "updating" }, "s1"),
      out("service", "update", { name: "heig_webapp" }, "s1"),
    ],
    ["a node going away", event("node", "remove", { name: "n2" }, "n2"), out("node", "remove", { name: "n2" }, "n2")],
  ])("keeps %s", (_, docker, expected) => {
    expect(reduceEvent(docker, POLICY)).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ["an exec and its command line", event("container", "exec_start: sh -c 'echo SECRET'", ours)],
    ["an exec's creation", event("container", "exec_create: env", ours)],
    ["an attach", event("container", "attach", ours)],
    ["a resize", event("container", "resize", ours)],
    ["another container's start", event("container", "start", { name: "db", "com.example.pw": "SECRET" })],
    ["another stack's haproxy... by its role alone", event("container", "kill", { "heig.lb.role": "other" })],
    ["a network created", event("network", "create", { name: "heig" }, "n1")],
    ["an image pulled", event("image", "pull", { name: "x" }, "sha")],
    ["a volume mounted", event("volume", "mount", { container: ID1 }, "v")],
    ["a secret created", event("secret", "create", { name: "SECRET" }, "s")],
    ["a service's other action", event("service", "exec", { name: "x" }, "s")],
    ["an event without an actor id", event("container", "start", ours, "")],
    ["an event that is no object", ["container"]],
    ["null", null],
    ["an event without a type", { Action: "start", Actor: { ID: "x" } }],
  ])("drops %s", (_, docker) => {
    expect(reduceEvent(docker, POLICY)).toBeNull();
  });
});

describe("reduceServices", () => {
  const service = (id: string, labels: Record<string, string>, containerLabels: Record<string, string>) => ({
    ID: id,
    Version: { Index: 1 },
    Spec: {
      Name: `heig_${id}`,
      Labels: labels,
      TaskTemplate: {
        ContainerSpec: {
          Image: "x",
          Env: ["DB_PASSWORD=SECRET"],
          Labels: containerLabels,
          Secrets: [{ SecretName: "SECRET" }],
        },
        Networks: [{ Target: "heig" }],
      },
      EndpointSpec: {},
    },
    UpdateStatus: { State: "updating", Message: "SECRET" },
  });

  it("keeps ours (by the service's or its containers' label) with our labels; drops the others", () => {
    const docker = [
      service("a", { "heig.lb.enable": "true", "com.docker.stack.namespace": "heig", x: "SECRET" }, {}),
      service("b", {}, { "heig.lb.enable": "yes", "heig.lb.port": "80" }),
      service("c", { "com.example.pw": "SECRET" }, { DB: "SECRET" }),
    ];
    expect(reduceServices(docker, POLICY)).toEqual([
      {
        ID: "a",
        Spec: {
          Name: "heig_a",
          Labels: { "heig.lb.enable": "true", "com.docker.stack.namespace": "heig" },
          TaskTemplate: { ContainerSpec: { Labels: {} } },
        },
        UpdateStatus: { State: "updating" },
      },
      {
        ID: "b",
        Spec: {
          Name: "heig_b",
          Labels: {},
          TaskTemplate: { ContainerSpec: { Labels: { "heig.lb.enable": "yes", "heig.lb.port": "80" } } },
        },
        UpdateStatus: { State: "updating" },
      },
    ]);
  });

  it("refuses an answer that is no list", () => {
    expect(() => reduceServices({ message: "x" }, POLICY)).toThrow(UpstreamShapeError);
  });
});

describe("reduceTasks", () => {
  it("keeps state, placement, container, hostname, our labels and addresses; drops the spec's env", () => {
    const docker = [
      {
        ID: "t1",
        ServiceID: "a",
        Slot: 3,
        NodeID: "n1",
        DesiredState: "running",
        Status: { State: "running", Message: "started", ContainerStatus: { ContainerID: ID1, PID: 42, ExitCode: 0 } },
        Spec: {
          ContainerSpec: {
            Image: "x",
            Env: ["SERF_ENCRYPT_KEY=SECRET"],
            Hostname: "web-3",
            Labels: { "heig.lb.port": "3000", other: "SECRET" },
          },
        },
        NetworksAttachments: [
          { Network: { ID: "n", Spec: { Name: "heig", Labels: { x: "SECRET" } } }, Addresses: ["10.0.1.5/24"] },
        ],
      },
      { Spec: {} },
    ];
    expect(reduceTasks(docker, POLICY)).toEqual([
      {
        ID: "t1",
        ServiceID: "a",
        Slot: 3,
        NodeID: "n1",
        DesiredState: "running",
        Status: { State: "running", ContainerStatus: { ContainerID: ID1 } },
        Spec: { ContainerSpec: { Labels: { "heig.lb.port": "3000" }, Hostname: "web-3" } },
        NetworksAttachments: [{ Network: { Spec: { Name: "heig" } }, Addresses: ["10.0.1.5/24"] }],
      },
    ]);
  });
});

describe("the kill's checks", () => {
  const selector = POLICY.reloadSelector;
  it.each<[string, unknown, unknown]>([
    [
      "this stack's haproxy",
      { Id: ID1, Config: { Labels: { "heig.lb.role": "haproxy", [HS.key]: "hs" } } },
      { id: ID1 },
    ],
    [
      "another stack's",
      { Id: ID1, Config: { Labels: { "heig.lb.role": "haproxy", [HS.key]: "x" } } },
      { reason: expect.stringContaining("not this stack's") },
    ],
    [
      "no haproxy",
      { Id: ID1, Config: { Labels: { [HS.key]: "hs" } } },
      { reason: expect.stringContaining("not this stack's") },
    ],
    [
      "no full id",
      { Id: "abc", Config: { Labels: { "heig.lb.role": "haproxy", [HS.key]: "hs" } } },
      { reason: expect.stringContaining("id") },
    ],
  ])("%s", (_, inspect, expected) => {
    expect(reloadTargetOf(inspect, selector, HS)).toEqual(expected);
  });

  it.each<[unknown, unknown]>([
    [{ Config: { Labels: { [HS.key]: "hs", "com.docker.stack.namespace": "heig" } } }, HS],
    [
      { Config: { Labels: { "com.docker.stack.namespace": "heig" } } },
      { key: "com.docker.stack.namespace", value: "heig" },
    ],
    [{ Config: { Labels: null } }, null],
    ["x", null],
  ])("the proxy's own stack from %j", (inspect, expected) => {
    expect(stackOf(inspect)).toEqual(expected);
  });
});

it("answers Docker's errors with a message of its own", () => {
  expect(errorBody(404, "Not Found")).toEqual({ message: "docker answered 404 Not Found" });
});
