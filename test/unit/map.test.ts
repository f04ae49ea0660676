import { mapContainerSummary, mapDockerEvent } from "../../sidecar/docker/map";

describe("mapContainerSummary", () => {
  const base = {
    Id: "abc123",
    Names: ["/compose_webapp_1"],
    State: "running",
    Status: "Up 3 seconds",
    Labels: { "heig.lb.enable": "true" },
    NetworkSettings: { Networks: { bridge: { IPAddress: "172.17.0.2" }, heig: { IPAddress: "172.18.0.4" } } },
  };

  it("takes the IP on the watched network only, whatever the map order", () => {
    expect(mapContainerSummary(base, "heig")).toEqual({
      id: "abc123", name: "compose_webapp_1", running: true, paused: false, health: "none", ip: "172.18.0.4",
      labels: { "heig.lb.enable": "true" },
    });
    expect(mapContainerSummary(base, "other").ip).toBeNull();
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

  it("copes with missing fields", () => {
    expect(mapContainerSummary({ Id: "0123456789abcdef" }, "heig")).toEqual({
      id: "0123456789abcdef", name: "0123456789ab", running: false, paused: false, health: "none", ip: null, labels: {},
    });
  });
});

describe("mapDockerEvent", () => {
  it("maps container events with the kill signal", () => {
    expect(mapDockerEvent({ Type: "container", Action: "kill", Actor: { ID: "c1", Attributes: { signal: "15" } } }, "heig"))
      .toEqual({ containerId: "c1", action: "kill", signal: "15", attributes: { signal: "15" } });
  });

  it("maps network connect/disconnect of the watched network to the container", () => {
    const ev = { Type: "network", Action: "disconnect", Actor: { ID: "n1", Attributes: { container: "c1", name: "heig" } } };
    expect(mapDockerEvent(ev, "heig")).toEqual({ containerId: "c1", action: "network-disconnect" });
    expect(mapDockerEvent(ev, "other")).toBeNull();
  });

  it("ignores other types", () => {
    expect(mapDockerEvent({ Type: "image", Action: "pull", Actor: { ID: "x" } }, "heig")).toBeNull();
  });
});

describe("mapDockerEvent filtering", () => {
  it.each(["exec_create: test -f /tmp/ready", "exec_start: sh", "exec_die", "attach", "resize", "top", "archive-path"])(
    "ignores %j, which cannot change routing", (Action) => {
      expect(mapDockerEvent({ Type: "container", Action, Actor: { ID: "c1", Attributes: {} } }, "heig")).toBeNull();
    });

  it.each(["start", "die", "health_status: healthy", "pause", "destroy"])("keeps %j", (Action) => {
    expect(mapDockerEvent({ Type: "container", Action, Actor: { ID: "c1", Attributes: {} } }, "heig")).toMatchObject({ action: Action });
  });
});
