/**
 * The sidecar converges to the truth after anything unusual: bursts, containers stopping,
 * pausing, leaving the network or not healthy yet, one-off runs, a restarting dockerd, a killed
 * sidecar, a restarted HAProxy, reload storms. Real dockerd, HAProxy and Serf; polls, no sleeps.
 */
import {
  compose,
  configIds,
  containerIp,
  containerOf,
  eventually,
  haproxyReloads,
  liveConfig,
  NETWORK,
  removeTestLeftovers,
  runLabelled,
  sh,
  sidecarLogs,
  statsServers,
  TEST_LABEL,
  upServers,
} from "./helpers";

jest.setTimeout(300_000);

beforeAll(async () => {
  removeTestLeftovers();
  sh("make down");
  sh("make up");
  await eventually(async () => expect(await upServers()).toEqual([containerOf("webapp", 1), containerOf("webapp", 2)]));
});

afterAll(() => {
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

describe("draining and readiness", () => {
  it("takes a container out of rotation on its kill event, while it still runs", async () => {
    // PID 1 ignores SIGTERM and the app never sees it: the container keeps running and serving.
    sh(
      `docker run -d --name hs-e2e-stubborn --label ${TEST_LABEL} --network ${NETWORK} --label heig.lb.enable=true ` +
        `--entrypoint sh ha-sidecar/webapp:latest -c 'trap "" TERM; node /app/app.js & while :; do sleep 1; done'`,
    );
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-stubborn"));
    sh("docker kill --signal SIGTERM hs-e2e-stubborn");
    await eventually(async () => expect(Object.keys(await statsServers())).not.toContain("hs-e2e-stubborn"));
    expect(sh("docker inspect -f '{{.State.Running}}' hs-e2e-stubborn").trim()).toBe("true");
    sh("docker rm -f hs-e2e-stubborn");
  });

  it("ignores a kill with a signal that does not stop the container", async () => {
    sh(
      `docker run -d --name hs-e2e-hup --label ${TEST_LABEL} --network ${NETWORK} --label heig.lb.enable=true ` +
        `--entrypoint sh ha-sidecar/webapp:latest -c 'trap "" HUP; node /app/app.js & while :; do sleep 1; done'`,
    );
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-hup"));
    sh("docker kill --signal SIGHUP hs-e2e-hup");
    runLabelled("hs-e2e-after-hup");
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-after-hup"));
    expect(await upServers()).toContain("hs-e2e-hup");
    sh("docker rm -f hs-e2e-hup hs-e2e-after-hup");
  });

  it.each([
    ["pause", "docker pause hs-e2e-out", "docker unpause hs-e2e-out"],
    [
      "network disconnect",
      `docker network disconnect ${NETWORK} hs-e2e-out`,
      `docker network connect ${NETWORK} hs-e2e-out`,
    ],
  ])("takes a container out on %s and puts it back on the reverse", async (_what, out, back) => {
    runLabelled("hs-e2e-out");
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-out"));
    sh(out);
    await eventually(async () => expect(Object.keys(await statsServers())).not.toContain("hs-e2e-out"));
    sh(back);
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-out"));
    sh("docker rm -f hs-e2e-out");
  });

  it("routes a container with a HEALTHCHECK only once it is healthy", async () => {
    runLabelled("hs-e2e-health", "--health-cmd 'test -f /tmp/ready' --health-interval 1s --health-retries 1");
    runLabelled("hs-e2e-health-witness");
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-health-witness"));
    await eventually(() =>
      expect(sh("docker inspect -f '{{.State.Health.Status}}' hs-e2e-health").trim()).toBe("unhealthy"),
    );
    expect(Object.keys(await statsServers())).not.toContain("hs-e2e-health");
    sh("docker exec hs-e2e-health touch /tmp/ready");
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-health"));
    sh("docker rm -f hs-e2e-health hs-e2e-health-witness");
  });

  it("never routes a one-off docker-compose run container", async () => {
    const oneoff = compose("run -d webapp").trim().split("\n").pop()!.trim();
    expect(oneoff).toMatch(/webapp_run/);
    runLabelled("hs-e2e-oneoff-witness");
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-oneoff-witness"));
    expect(liveConfig()).not.toContain("webapp_run");
    sh(`docker rm -f ${oneoff} hs-e2e-oneoff-witness`);
  });
});

describe("restarts", () => {
  it("a sidecar killed with SIGKILL and restarted resyncs without reloading HAProxy", async () => {
    await eventually(() => expect(configIds().running).toBe(configIds().file));
    const before = haproxyReloads();
    const starts = sidecarLogs("first reconcile done").length;
    sh(`docker kill --signal SIGKILL ${containerOf("sidecar")}`);
    sh(`docker start ${containerOf("sidecar")}`);
    await eventually(() => expect(sidecarLogs("first reconcile done")).toHaveLength(starts + 1), 60_000);
    expect(sidecarLogs("first reconcile done").pop()).toMatchObject({ outcome: "unchanged" });
    expect(haproxyReloads()).toBe(before);
  });

  it("a restarted ha container serves the current config", async () => {
    const servers = await upServers();
    sh(`docker restart ${containerOf("ha")}`);
    await eventually(async () => expect(await upServers()).toEqual(servers), 60_000);
    expect(configIds().running).toBe(configIds().file);
  });
});

describe("reload storms", () => {
  it("20 back-to-back changes end with HAProxy serving the last one", async () => {
    // No coalescing at all, so every change is its own reload, right on the heels of the last.
    sh("LB_QUIET_MS=0 LB_MAX_WAIT_MS=1 docker-compose up -d sidecar");
    await eventually(() => expect(sidecarLogs("first reconcile done").length).toBeGreaterThan(0), 60_000);
    runLabelled("hs-e2e-flap");
    await eventually(async () => expect(await upServers()).toContain("hs-e2e-flap"));
    for (let i = 0; i < 10; i++) {
      sh(`docker network disconnect ${NETWORK} hs-e2e-flap`);
      sh(`docker network connect ${NETWORK} hs-e2e-flap`);
    }
    sh(`docker network disconnect ${NETWORK} hs-e2e-flap`);
    // The file follows a runtime change in the background (staged, `haproxy -c`, renamed): on a
    // busy machine it may still hold the render before the last one when HAProxy already runs it.
    await eventually(async () => {
      expect(Object.keys(await statsServers())).not.toContain("hs-e2e-flap");
      const ids = configIds();
      expect(ids.running).toBe(ids.file);
      expect(liveConfig()).not.toContain("hs-e2e-flap");
    }, 60_000);
    expect(containerIp(containerOf("webapp", 1))).not.toBe("");
    sh("docker rm -f hs-e2e-flap");
    sh("docker-compose up -d sidecar");
  });
});
