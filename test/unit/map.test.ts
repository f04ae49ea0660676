import { mapContainerSummary, mapDockerEvent } from "../../sidecar/docker/map";

describe("mapContainerSummary", () => {
  const base = {
    Id: "abc123",
    Names: ["/compose_webapp_1"],
    State: "running",
    Status: "Up 3 seconds",
    Labels: { "heig.lb.enable": "true", "com.docker.compose.service": "webapp" },
    NetworkSettings: { Networks: { bridge: { IPAddress: "172.17.0.2" }, heig: { IPAddress: "172.18.0.4" } } },
  };

  it("takes the IP on the watched network only, whatever the map order", () => {
    expect(mapContainerSummary(base, "heig")).toEqual({
      id: "abc123",
      name: "compose_webapp_1",
      group: "webapp",
      running: true,
      paused: false,
      health: "none",
      address: "172.18.0.4",
      leaving: false,
      oneOff: false,
      labels: { "heig.lb.enable": "true", "com.docker.compose.service": "webapp" },
      agentName: "abc123",
    });
    expect(mapContainerSummary(base, "other").address).toBeNull();
  });

  it.each([
    ["Up 3 seconds (health: starting)", "starting"],
    ["Up 3 seconds (healthy)", "healthy"],
    ["Up 3 seconds (unhealthy)", "unhealthy"],
  ])("reads health from %j", (Status, health) => {
    expect(mapContainerSummary({ ...base, Status }, "heig").health).toBe(health);
  });

  it("reads a paused container as running and paused", () => {
    expect(mapContainerSummary({ ...base, State: "paused" }, "heig")).toMatchObject({ running: true, paused: true });
  });

  it("recognises a one-off `docker-compose run` container", () => {
    expect(
      mapContainerSummary({ ...base, Labels: { ...base.Labels, "com.docker.compose.oneoff": "True" } }, "heig").oneOff,
    ).toBe(true);
  });

  it("copes with missing fields", () => {
    expect(mapContainerSummary({ Id: "0123456789abcdef" }, "heig")).toEqual({
      id: "0123456789abcdef",
      name: "0123456789ab",
      group: null,
      running: false,
      paused: false,
      health: "none",
      address: null,
      leaving: false,
      oneOff: false,
      labels: {},
      agentName: "0123456789ab",
    });
  });
});

describe("mapDockerEvent", () => {
  const container = (Action: string, Attributes: Record<string, string> = {}) => ({
    Type: "container",
    Action,
    Actor: { ID: "c1", Attributes },
  });

  it.each([
    ["kill", { signal: "15" }, "leaving"],
    ["kill", { signal: "SIGTERM" }, "leaving"],
    ["kill", { signal: "9" }, "leaving"],
    ["kill", { signal: "SIGUSR2" }, "changed"],
    ["kill", { signal: "1" }, "changed"],
    ["stop", {}, "leaving"],
    ["start", {}, "started"],
    ["restart", {}, "started"],
    ["destroy", {}, "gone"],
    ["die", {}, "leaving"],
    ["oom", {}, "leaving"],
    ["health_status: healthy", {}, "changed"],
  ])("maps %s %j to a %s hint", (action, attrs, kind) => {
    expect(mapDockerEvent(container(action, attrs), "heig")).toMatchObject({
      kind,
      id: "c1",
      cause: action.split(":")[0],
    });
  });

  it("carries the labels of a created container", () => {
    expect(mapDockerEvent(container("create", { "heig.lb.enable": "true", name: "x" }), "heig")).toEqual({
      kind: "created",
      id: "c1",
      cause: "create",
      labels: { "heig.lb.enable": "true", name: "x" },
      group: null,
    });
  });

  it("maps network connect/disconnect of the watched network to the container", () => {
    const ev = {
      Type: "network",
      Action: "disconnect",
      Actor: { ID: "n1", Attributes: { container: "c1", name: "heig" } },
    };
    expect(mapDockerEvent(ev, "heig")).toEqual({ kind: "changed", id: "c1", cause: "network-disconnect" });
    expect(mapDockerEvent(ev, "other")).toBeNull();
  });

  it("ignores other types", () => {
    expect(mapDockerEvent({ Type: "image", Action: "pull", Actor: { ID: "x" } }, "heig")).toBeNull();
  });
});

describe("mapDockerEvent filtering", () => {
  it.each(["exec_create: test -f /tmp/ready", "exec_start: sh", "exec_die", "attach", "resize", "top", "archive-path"])(
    "ignores %j, which cannot change routing",
    (Action) => {
      expect(mapDockerEvent({ Type: "container", Action, Actor: { ID: "c1", Attributes: {} } }, "heig")).toBeNull();
    },
  );

  it.each(["start", "die", "health_status: healthy", "pause", "destroy"])("keeps %j", (Action) => {
    expect(mapDockerEvent({ Type: "container", Action, Actor: { ID: "c1", Attributes: {} } }, "heig")).toMatchObject({
      cause: Action.split(":")[0],
    });
  });
});
