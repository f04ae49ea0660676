import {
  converging,
  diffTasks,
  isOurs,
  mapTask,
  taskContainerHint,
  viewOf,
  type SwarmService,
  type SwarmTask,
} from "../../sidecar/swarm/map";

const service: SwarmService = {
  ID: "svc1",
  Spec: {
    Name: "heig_webapp",
    Labels: { "com.docker.stack.namespace": "heig", "heig.lb.enable": "true" },
    TaskTemplate: { ContainerSpec: { Labels: { "heig.lb.port": "3000", "com.docker.stack.namespace": "heig" } } },
  },
};
const task = (over: Partial<SwarmTask> & { state?: string; desired?: string; address?: string } = {}): SwarmTask => {
  const { state = "running", desired = "running", address = "10.0.1.7/24", ...rest } = over;
  return {
    ID: "t1abc",
    ServiceID: "svc1",
    Slot: 3,
    NodeID: "node2",
    DesiredState: desired,
    Status: { State: state },
    Spec: { ContainerSpec: { Labels: { "heig.lb.port": "3000" } } },
    NetworksAttachments: [
      { Network: { Spec: { Name: "ingress" } }, Addresses: ["10.0.0.9/24"] },
      { Network: { Spec: { Name: "heig" } }, Addresses: [address] },
    ],
    ...rest,
  };
};

describe("mapTask", () => {
  it.each(["10.0.1.7 check\n    server evil 10.9.9.9", "", "not-an-ip/24", "10.0.1.300/24"])(
    "takes no address from %j: anything but an IP address would be printed into haproxy.cfg",
    (address) => {
      expect(mapTask(task({ address }), service, "heig")?.address).toBeNull();
    },
  );

  it("names the task's Serf agent by its container's hostname: the spec's, else Docker's default", () => {
    const withContainer = task({ Status: { State: "running", ContainerStatus: { ContainerID: "0123456789abcdef" } } });
    expect(mapTask(withContainer, service, "heig")?.agentName).toBe("0123456789ab");
    const named = { ...withContainer, Spec: { ContainerSpec: { Hostname: "web-3" } } };
    expect(mapTask(named, service, "heig")?.agentName).toBe("web-3");
    const templated = { ...withContainer, Spec: { ContainerSpec: { Hostname: "{{.Task.Name}}" } } };
    expect(mapTask(templated, service, "heig")?.agentName).toBe("0123456789ab");
    expect(mapTask(task(), service, "heig")?.agentName).toBeUndefined();
  });

  it("maps a running task: its container's name, its address on the watched overlay, its group within the stack", () => {
    expect(mapTask(task(), service, "heig")).toEqual({
      id: "t1abc",
      name: "heig_webapp.3.t1abc",
      group: "webapp",
      running: true,
      paused: false,
      health: "none",
      address: "10.0.1.7",
      leaving: false,
      oneOff: false,
      labels: { "com.docker.stack.namespace": "heig", "heig.lb.enable": "true", "heig.lb.port": "3000" },
    });
  });

  it.each([
    ["starting", "running", { running: false, health: "starting", leaving: false }],
    ["running", "shutdown", { running: true, leaving: true }],
    ["running", "remove", { running: true, leaving: true }],
    ["ready", "ready", { running: false, health: "starting", leaving: true }],
  ])("maps state %s, desired %s", (state, desired, expected) => {
    expect(mapTask(task({ state, desired }), service, "heig")).toMatchObject(expected);
  });

  it.each(["shutdown", "complete", "failed", "rejected", "orphaned"])(
    "drops a %s task: history, its address may be another's",
    (state) => {
      expect(mapTask(task({ state, desired: "shutdown" }), service, "heig")).toBeNull();
    },
  );

  it("has no address on a network it is not attached to, and names a global task by its node", () => {
    const { Slot: _slot, ...global } = task();
    expect(mapTask(global, service, "other")).toMatchObject({ address: null, name: "heig_webapp.node2.t1abc" });
  });
});

describe("isOurs", () => {
  it("reads the opt-in label on the service or on its containers", () => {
    expect(isOurs(service, "heig.lb")).toBe(true);
    expect(
      isOurs(
        { ID: "x", Spec: { Name: "x", TaskTemplate: { ContainerSpec: { Labels: { "heig.lb.enable": "nope" } } } } },
        "heig.lb",
      ),
    ).toBe(true);
    expect(isOurs({ ID: "y", Spec: { Name: "y" } }, "heig.lb")).toBe(false);
  });
});

describe("converging", () => {
  it.each([
    ["all running", [], [task()], false],
    ["an update under way", [{ ...service, UpdateStatus: { State: "updating" } }], [task()], true],
    ["a task starting", [], [task({ state: "starting" })], true],
    ["a task still running while it should stop", [], [task({ desired: "shutdown" })], true],
    ["only history besides", [], [task(), task({ ID: "old", state: "shutdown", desired: "shutdown" })], false],
  ])("%s → %s", (_what, services, tasks, expected) => {
    expect(converging(services as SwarmService[], tasks)).toBe(expected);
  });
});

describe("diffTasks", () => {
  const views = (...tasks: SwarmTask[]) => new Map(tasks.map((t) => [t.ID, viewOf(t, "heig")]));
  it("turns two listings into hints: new, running, leaving, gone", () => {
    const before = views(task({ ID: "a" }), task({ ID: "b", state: "starting" }), task({ ID: "c" }));
    const after = views(task({ ID: "a", desired: "shutdown" }), task({ ID: "b" }), task({ ID: "d", state: "pending" }));
    expect(diffTasks(before, after)).toEqual([
      { kind: "leaving", id: "a", cause: "task-shutdown" },
      { kind: "started", id: "b", cause: "task-running" },
      { kind: "changed", id: "d", cause: "task-new" },
      { kind: "gone", id: "c", cause: "task-gone" },
    ]);
    expect(diffTasks(after, after)).toEqual([]);
  });
});

describe("taskContainerHint", () => {
  const event = (Action: string, Attributes: Record<string, string>) => ({
    Type: "container",
    Action,
    Actor: { ID: "container1", Attributes },
  });
  const task = { "com.docker.swarm.task.id": "t1abc" };

  it.each([
    ["kill", { signal: "15" }, { kind: "leaving", id: "t1abc", cause: "kill" }],
    ["die", {}, { kind: "leaving", id: "t1abc", cause: "die" }],
    ["oom", {}, { kind: "leaving", id: "t1abc", cause: "oom" }],
    ["start", {}, { kind: "started", id: "t1abc", cause: "start" }],
    ["kill", { signal: "SIGUSR2" }, { kind: "changed", id: "t1abc", cause: "kill" }],
  ])("reads a task container's %s as a hint about the task", (action, attrs, hint) => {
    expect(taskContainerHint(event(action, { ...task, ...attrs }), "heig")).toEqual(hint);
  });

  it("ignores containers that are no task, creations, and actions that route nothing", () => {
    expect(taskContainerHint(event("kill", { signal: "15" }), "heig")).toBeNull();
    expect(taskContainerHint(event("create", task), "heig")).toBeNull();
    expect(taskContainerHint(event("exec_start: sh", task), "heig")).toBeNull();
    expect(
      taskContainerHint({ Type: "service", Action: "update", Actor: { ID: "svc1", Attributes: task } }, "heig"),
    ).toBeNull();
  });
});
