/**
 * Least privilege, checked on the running stack: only the Docker API proxy touches the socket
 * and it refuses everything the sidecar does not need; nothing on the watched network reaches
 * the sidecar, the proxy or a Serf RPC; gossip needs the key; SIGUSR2 only goes to this stack's
 * HAProxy; the containers run as their compose file says; the stats page needs credentials
 * before it may leave this host.
 */
import {
  containerOf,
  eventually,
  haproxyReloads,
  NETWORK,
  removeTestLeftovers,
  sh,
  statsServers,
  TEST_LABEL,
} from "./helpers";

jest.setTimeout(300_000);

/** A script for `node -e`, on one line, quoted for the shell. */
const oneLine = (script: string): string => JSON.stringify(script.replace(/\s*\n\s*/g, " "));
/** Runs a node script inside a container; prints what it logs. */
const nodeIn = (container: string, script: string): string =>
  sh(`docker exec -i ${container} node -e ${oneLine(script)}`);

beforeAll(async () => {
  removeTestLeftovers();
  sh("make down");
  sh("make up");
  await eventually(async () => expect(Object.values(await statsServers())).toEqual(["UP", "UP"]), 90_000);
});

afterAll(() => {
  removeTestLeftovers();
  sh("make down", { allowFail: true });
});

describe("the Docker API, through the proxy only", () => {
  it("lets the sidecar list and follow, and refuses it everything else with 403", () => {
    const webapp = containerOf("webapp", 1);
    const ha = containerOf("ha", 1);
    const startedAt = sh(`docker inspect -f '{{.State.StartedAt}}' ${webapp}`).trim();
    const filters = (f: unknown): string => `filters=${encodeURIComponent(JSON.stringify(f))}`;
    // Another project's container, with a secret in its env and labels.
    sh(
      `docker run -d --name hs-e2e-foreign --label ${TEST_LABEL} --label com.example.password=hs-e2e-secret ` +
        `-e DB_PASSWORD=hs-e2e-secret --network none --entrypoint sh ha-sidecar/webapp:latest -c 'sleep 600'`,
    );
    const requests: Array<[string, string]> = [
      ["GET", `/containers/json?${filters({ label: ["heig.lb.enable"], network: [NETWORK] })}`],
      ["GET", `/v1.41/containers/json?${filters({ label: ["heig.lb.role=haproxy"] })}`],
      ["GET", `/events?${filters({ type: ["container", "network"] })}`],
      ["GET", `/containers/${webapp}/json`],
      ["GET", "/containers/hs-e2e-foreign/json"],
      ["GET", "/containers/json"],
      ["GET", "/version"],
      ["GET", "/events"],
      ["POST", "/containers/create"],
      ["POST", `/containers/${webapp}/stop`],
      ["POST", `/containers/${webapp}/exec`],
      ["GET", `/containers/${webapp}/archive?path=/app`],
      ["GET", `/containers/${webapp}/export`],
      ["POST", `/containers/${webapp}/kill?signal=SIGUSR2`],
      ["POST", `/containers/${ha}/kill?signal=SIGKILL`],
    ];
    // Each answer's status; the body of the reads (the event stream's is cut at its headers).
    const out = nodeIn(
      containerOf("sidecar"),
      `const http = require("http");
       const reqs = ${JSON.stringify(requests)};
       (async () => { for (const [method, path] of reqs) {
         const [status, body] = await new Promise((resolve) => { const r = http.request({ host: "docker-proxy", port: 2375, method, path }, (res) => { let b = ""; if (path.startsWith("/events")) { res.destroy(); return resolve([res.statusCode, ""]); } res.on("data", (c) => (b += c)); res.on("end", () => resolve([res.statusCode, b])); }); r.on("error", (e) => resolve([e.code, ""])); r.end(); });
         console.log(JSON.stringify([method + " " + path.split("?")[0], status, body]));
       } })();`,
    );
    const answers = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as [string, number, string]);
    expect(answers.map(([request, status]) => `${request} ${status}`)).toEqual([
      "GET /containers/json 200",
      "GET /v1.41/containers/json 200",
      "GET /events 200",
      `GET /containers/${webapp}/json 200`,
      "GET /containers/hs-e2e-foreign/json 404",
      "GET /containers/json 403",
      "GET /version 403",
      "GET /events 403",
      "POST /containers/create 403",
      `POST /containers/${webapp}/stop 403`,
      `POST /containers/${webapp}/exec 403`,
      `GET /containers/${webapp}/archive 403`,
      `GET /containers/${webapp}/export 403`,
      `POST /containers/${webapp}/kill 403`,
      `POST /containers/${ha}/kill 403`,
    ]);
    // The reads carry what the sidecar reads and nothing else: no env (Serf's keys), no command.
    const [listing, , , inspect] = answers.map(([, , body]) => body);
    expect(Object.keys(JSON.parse(inspect!) as object).sort()).toEqual(["Config", "Id", "Name"]);
    expect(Object.keys((JSON.parse(listing!) as Array<Record<string, unknown>>)[0]!).sort()).toEqual([
      "Id",
      "Labels",
      "Names",
      "NetworkSettings",
      "State",
      "Status",
    ]);
    const serfKey = sh(`docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' ${webapp}`)
      .split("\n")
      .find((e) => e.startsWith("SERF_ENCRYPT_KEY="))
      ?.split("=")[1];
    for (const [, , body] of answers) {
      expect(body).not.toContain("hs-e2e-secret");
      if (serfKey !== undefined && serfKey !== "") expect(body).not.toContain(serfKey);
    }
    // The webapp was not touched, and every refusal was logged by the proxy (the 404 of another
    // project's container too).
    expect(sh(`docker inspect -f '{{.State.Running}} {{.State.StartedAt}}' ${webapp}`).trim()).toBe(
      `true ${startedAt}`,
    );
    expect(sh(`docker logs ${containerOf("docker-proxy")} 2>&1 | grep -c 'docker api request denied'`).trim()).toBe(
      "11",
    );
  });

  it("mounts the Docker socket's directory in the proxy only", () => {
    const mounts = (c: string): string => sh(`docker inspect -f '{{range .Mounts}}{{.Source}} {{end}}' ${c}`);
    expect(mounts(containerOf("docker-proxy"))).toContain("/var/run");
    for (const service of ["sidecar", "ha", "serf", "webapp"])
      expect(mounts(containerOf(service))).not.toMatch(/\/var\/run|docker\.sock/);
  });
});

describe("from a foreign container on the watched network", () => {
  it("reaches neither the sidecar's ports, nor the Docker API proxy, nor any Serf RPC", () => {
    const targets = [
      [containerOf("sidecar"), 8080],
      [containerOf("sidecar"), 2375],
      ["docker-proxy", 2375],
      [containerOf("docker-proxy"), 2375],
      ["serf", 7373],
      [containerOf("webapp", 1), 7373],
    ];
    const out = sh(
      `docker run --rm --label ${TEST_LABEL} --network ${NETWORK} --entrypoint node ha-sidecar/webapp:latest -e ${oneLine(
        `const net = require("net");
         const t = ${JSON.stringify(targets)};
         (async () => { for (const [host, port] of t) {
           const r = await new Promise((resolve) => { const s = net.connect({ host, port }); s.setTimeout(2000, () => { s.destroy(); resolve("timeout"); }); s.on("connect", () => { s.destroy(); resolve("connected"); }); s.on("error", (e) => resolve(e.code)); });
           console.log(host + ":" + port + " " + r);
         } })();`,
      )}`,
    );
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(targets.length);
    for (const line of lines) expect(line).not.toMatch(/ connected$/);
  });

  it("cannot join the Serf cluster without the gossip key", async () => {
    const seed = sh(
      `docker inspect -f '{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}' ${containerOf("serf")}`,
    ).trim();
    const r = sh(
      `docker run --rm --label ${TEST_LABEL} --network ${NETWORK} --entrypoint sh ha-sidecar/webapp:latest -c ` +
        `'timeout 10 serf agent -node=intruder -bind=0.0.0.0:7946 -join=${seed}:7946 -tag role=webapp 2>&1; echo exit=$?'`,
      { allowFail: true },
    );
    expect(r).toMatch(/exit=[1-9]/);
    // The seed never saw it: the sidecar reports no such member, live or failed.
    const status = JSON.parse(sh(`curl -s 127.0.0.1:${process.env.SIDECAR_STATUS_PORT}/status`)) as {
      serf: { drift: Array<{ name: string }> };
    };
    expect(status.serf.drift.map((m) => m.name)).not.toContain("intruder");
    const members = sh(
      `docker exec ${containerOf("serf")} sh -c 'serf members -rpc-addr=$(getent hosts serf-rpc | cut -d" " -f1):7373 -rpc-auth=$SERF_RPC_AUTH'`,
    );
    expect(members).not.toContain("intruder");
    expect(members).toContain("alive");
  });
});

describe("the reload signal", () => {
  it("never reaches another stack's container labelled as HAProxy", async () => {
    sh(
      `docker run -d --name hs-e2e-other-ha --label ${TEST_LABEL} --label heig.lb.role=haproxy --label com.docker.compose.project=someone-else ` +
        `--network ${NETWORK} --entrypoint sh ha-sidecar/webapp:latest -c 'trap "echo usr2 >> /tmp/usr2" USR2; while :; do sleep 0.1; done'`,
    );
    const before = haproxyReloads();
    // A new backend is a structural change: a reload.
    sh(
      `docker run -d --name hs-e2e-reload-me --label ${TEST_LABEL} --network ${NETWORK} --label heig.lb.enable=true --label heig.lb.backend=other ha-sidecar/webapp:latest`,
    );
    await eventually(async () => expect(Object.values(await statsServers("other"))).toEqual(["UP"]), 60_000);
    expect(haproxyReloads()).toBeGreaterThan(before);
    expect(sh("docker exec hs-e2e-other-ha sh -c 'cat /tmp/usr2 2>/dev/null || echo none'").trim()).toBe("none");
  });
});

describe("the containers", () => {
  it("run as the compose file says: a non-root, read-only, capability-less sidecar; HAProxy workers not root", () => {
    const inspect = (c: string, f: string): string => sh(`docker inspect -f '${f}' ${c}`).trim();
    const sidecar = containerOf("sidecar");
    expect(inspect(sidecar, "{{.Config.User}}")).toBe("10001:10100");
    expect(inspect(sidecar, "{{.HostConfig.ReadonlyRootfs}}")).toBe("true");
    expect(inspect(sidecar, "{{.HostConfig.CapDrop}}")).toBe("[ALL]");
    expect(inspect(sidecar, "{{.HostConfig.SecurityOpt}}")).toBe("[no-new-privileges:true]");
    expect(Number(inspect(sidecar, "{{.HostConfig.Memory}}"))).toBeGreaterThan(0);
    expect(Number(inspect(sidecar, "{{.HostConfig.PidsLimit}}"))).toBeGreaterThan(0);
    const proxy = containerOf("docker-proxy");
    expect(inspect(proxy, "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}")).toBe("true [ALL]");
    const procs = sh(`docker top ${containerOf("ha")} -eo pid,uid,comm`)
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    const uids = procs.filter(([, , comm]) => comm === "haproxy").map(([, uid]) => uid);
    expect(uids.filter((u) => u === "0")).toHaveLength(1); // the master
    expect(uids.filter((u) => u === "10002").length).toBeGreaterThanOrEqual(1); // the workers
  });

  it("publish the stats page and the status page on 127.0.0.1 only", () => {
    expect(sh(`docker port ${containerOf("ha")} 1936`).trim()).toBe(`127.0.0.1:${process.env.STATS_PORT}`);
    expect(sh(`docker port ${containerOf("sidecar")} 8080`).trim()).toBe(
      `127.0.0.1:${process.env.SIDECAR_STATUS_PORT}`,
    );
  });
});

describe("the stats page beyond this host", () => {
  it("needs credentials: without them, the stack refuses to start and says why", () => {
    const r = sh("STATS_BIND=0.0.0.0 make up 2>&1; echo exit=$?", { allowFail: true });
    expect(r).toContain("STATS_BIND=0.0.0.0 would publish HAProxy's stats page beyond this host without credentials");
    expect(r).toMatch(/exit=[1-9]/);
    // ha itself refuses too (when started around make).
    const ha = sh(
      `docker run --rm --label ${TEST_LABEL} -e STATS_BIND=0.0.0.0 ha-sidecar/ha:latest 2>&1; echo exit=$?`,
      { allowFail: true },
    );
    expect(ha).toContain("would publish the stats page beyond this host without credentials");
    expect(ha).toMatch(/exit=1/);
  });
});
