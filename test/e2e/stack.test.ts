/**
 * End to end, through what a user sees: the Makefile, docker-compose, HTTP answers on
 * 127.0.0.1 and the stats CSV. Real dockerd, real HAProxy, real Serf; no sleeps, only polls.
 */
import {
  compose,
  containerIp,
  containerOf,
  eventually,
  get,
  HTTP_PORT,
  liveConfig,
  NETWORK,
  PROJECT,
  removeTestLeftovers,
  runLabelled,
  serviceContainers,
  sh,
  spread,
  statsRows,
  statsServers,
  TEST_LABEL,
} from "./helpers";
import { editTemplate } from "./template";

jest.setTimeout(240_000);

beforeAll(() => {
  removeTestLeftovers();
  sh("make down");
});

afterAll(() => {
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

describe("the compose stack", () => {
  it("ha alone answers 503 on port 80 and serves the stats page", async () => {
    compose("up -d ha");
    await eventually(async () => expect((await get(HTTP_PORT)).status).toBe(503));
    const rows = await statsRows();
    expect(rows).toEqual(expect.arrayContaining([expect.objectContaining({ pxname: "webapp", svname: "BACKEND" })]));
    expect(await statsServers()).toEqual({});
  });

  it("picks up webapps that were started before ha and the sidecar", async () => {
    sh("make down");
    compose("up -d --scale webapp=2 webapp");
    await eventually(() => expect(serviceContainers("webapp")).toHaveLength(2));
    sh("make up");
    await eventually(async () =>
      expect(await statsServers()).toEqual({ [containerOf("webapp", 1)]: "UP", [containerOf("webapp", 2)]: "UP" }),
    );
  });

  it("make up: two distinct backends answer on 127.0.0.1:80, listed UP under their names", async () => {
    const expected = new Set(serviceContainers("webapp").map((n) => containerIp(n)));
    expect(expected.size).toBe(2);
    await eventually(async () => {
      const { ips, failures } = await spread(10);
      expect(failures).toEqual([]);
      expect(ips).toEqual(expected);
    });
    const body = JSON.parse((await get(HTTP_PORT)).body);
    expect(body).toEqual({
      hello: "world!",
      ip: expect.any(String),
      host: expect.any(String),
      tag: expect.stringMatching(new RegExp(`^${PROJECT}_webapp_\\d$`)),
      sessionViews: 1,
      id: expect.any(Number),
    });
  });

  it("scales to 5: five distinct backends answer", async () => {
    sh("make scale N=5");
    await eventually(async () => {
      const servers = await statsServers();
      expect(Object.keys(servers)).toHaveLength(5);
      expect(new Set(Object.values(servers))).toEqual(new Set(["UP"]));
    });
    await eventually(async () => {
      const { ips, failures } = await spread(20);
      expect(failures).toEqual([]);
      expect(ips.size).toBe(5);
    });
  });

  it("scales to 1: exactly one server is listed and answers", async () => {
    sh("make scale N=1");
    const [only] = serviceContainers("webapp");
    await eventually(async () => expect(await statsServers()).toEqual({ [only!]: "UP" }));
    const { ips, failures } = await spread(5);
    expect(failures).toEqual([]);
    expect(ips).toEqual(new Set([containerIp(only!)]));
  });

  it("never routes a labelled container on another network, nor an unlabelled one on the watched network", async () => {
    sh(`docker network create --label ${TEST_LABEL} hs-e2e-other`);
    sh(
      `docker run -d --name hs-e2e-elsewhere --label ${TEST_LABEL} --network hs-e2e-other --label heig.lb.enable=true ha-sidecar/webapp:latest`,
    );
    sh(`docker run -d --name hs-e2e-unlabelled --label ${TEST_LABEL} --network ${NETWORK} ha-sidecar/webapp:latest`);
    // A container that must be routed, started last: once it is listed, the sidecar has seen the others.
    runLabelled("hs-e2e-sentinel");
    await eventually(async () => expect(await statsServers()).toHaveProperty(["hs-e2e-sentinel"], "UP"));
    expect(Object.keys(await statsServers())).toHaveLength(2);
    const cfg = liveConfig();
    expect(cfg).not.toContain("hs-e2e-elsewhere");
    expect(cfg).not.toContain("hs-e2e-unlabelled");
    expect(cfg).not.toContain(containerIp("hs-e2e-unlabelled"));
  });

  it("skips a container whose labels try to inject directives, names it, and keeps the others", async () => {
    const evilPort = "3000\n    server evil 10.66.66.66:80";
    sh(
      `docker run -d --name hs-e2e-hostile --label ${TEST_LABEL} --network ${NETWORK} --label heig.lb.enable=true --label heig.lb.port=${JSON.stringify(evilPort)} ha-sidecar/webapp:latest`,
    );
    runLabelled("hs-e2e-sentinel-2");
    await eventually(async () => expect(await statsServers()).toHaveProperty(["hs-e2e-sentinel-2"], "UP"));
    expect(liveConfig()).not.toMatch(/evil|10\.66\.66\.66|hs-e2e-hostile/);
    const warning = await eventually(() => {
      const line = compose("logs --no-color sidecar")
        .split("\n")
        .find((l) => l.includes("container skipped: bad label"));
      expect(line).toBeDefined();
      return line!;
    });
    expect(warning).toContain('"container":"hs-e2e-hostile"');
    expect(warning).toContain('"label":"heig.lb.port"');
  });

  it("keeps the last good config when haproxy rejects the new one, and applies once fixed", async () => {
    const good = liveConfig();
    // A template that renders text haproxy -c refuses.
    const restore = editTemplate((t) => t.replace(/^defaults$/m, "defaults\n    no-such-directive on"));
    runLabelled("hs-e2e-sentinel-3");
    const rejection = await eventually(() => {
      const line = compose("logs --no-color sidecar")
        .split("\n")
        .find((l) => l.includes("haproxy rejected the new config"));
      expect(line).toBeDefined();
      return line!;
    });
    expect(rejection).toContain("no-such-directive");
    expect(liveConfig()).toBe(good);
    expect(await statsServers()).not.toHaveProperty(["hs-e2e-sentinel-3"]);
    expect((await spread(4)).failures).toEqual([]);
    // Fixed template + any change: it applies.
    restore();
    runLabelled("hs-e2e-sentinel-4");
    await eventually(async () => {
      const servers = await statsServers();
      expect(servers).toHaveProperty(["hs-e2e-sentinel-3"], "UP");
      expect(servers).toHaveProperty(["hs-e2e-sentinel-4"], "UP");
    });
  });
});

describe("the rendered configs", () => {
  it("pass haproxy -c with the same HAProxy as ha", () => {
    const out = sh(
      "for f in test/fixtures/golden/*.cfg compose/ha/bootstrap.cfg; do " +
        'docker run --rm --entrypoint haproxy -v "$PWD/$f:/tmp/h.cfg:ro" ha-sidecar/ha:latest -c -q -f /tmp/h.cfg && echo "ok $f"; done',
    );
    expect(out.trim().split("\n")).toEqual([
      "ok test/fixtures/golden/empty.cfg",
      "ok test/fixtures/golden/several-backends.cfg",
      "ok test/fixtures/golden/two-servers.cfg",
      "ok compose/ha/bootstrap.cfg",
    ]);
  });
});
