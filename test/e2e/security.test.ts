/**
 * Least privilege, checked on the running stack: only the Docker API proxy touches the socket
 * and it refuses everything the sidecar does not need; nothing on the watched network reaches
 * the sidecar, the proxy or a Serf RPC; gossip needs the key; SIGUSR2 only goes to this stack's
 * HAProxy; the containers run as their compose file says; the stats page needs credentials
 * before it may leave this host. And nothing the system reads can stop it or leak the host: bad
 * request targets, a foreign Host, the event stream of other containers, a compromised app.
 */
import { spawn } from "node:child_process";
import {
  containerOf,
  eventually,
  haproxyReloads,
  NETWORK,
  removeTestLeftovers,
  sh,
  shAsync,
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

describe("hostile input", () => {
  it("keeps the sidecar running through malformed request targets and a foreign Host, from the host and from heig", async () => {
    const sidecar = containerOf("sidecar");
    const startedAt = sh(`docker inspect -f '{{.State.StartedAt}}' ${sidecar}`).trim();
    const targets = ["http://[/", "http://a:99999/", "//[/status", "http://a%zz/", "http://a@/", "/changes?since=%zz"];
    // Raw requests (curl would fix the target up), from the host to the published status port.
    const out = sh(
      `node -e ${oneLine(
        `const net = require("net");
         const t = ${JSON.stringify(targets)};
         (async () => { for (const target of [...t, "/status HOST"]) {
           const [path, host] = target.endsWith(" HOST") ? [target.slice(0, -5), "attacker.example"] : [target, "127.0.0.1"];
           const r = await new Promise((resolve) => { let b = ""; const s = net.connect(${process.env.SIDECAR_STATUS_PORT}, "127.0.0.1", () => s.write("GET " + path + " HTTP/1.1\\r\\nHost: " + host + "\\r\\nConnection: close\\r\\n\\r\\n")); s.on("data", (c) => (b += c)); s.on("end", () => resolve(b.split(" ")[1])); s.on("error", (e) => resolve(e.code)); });
           console.log(r);
         } })();`,
      )}`,
    );
    // 400 for every malformed target, 421 for a name that is not this host's (DNS rebinding).
    expect(out.trim().split("\n")).toEqual([...targets.map(() => "400"), "421"]);
    // From the watched network, the sidecar cannot be reached at all (the first test above);
    // the same targets to HAProxy's frontend leave the sidecar alone too.
    sh(
      `docker run --rm --label ${TEST_LABEL} --network ${NETWORK} --entrypoint node ha-sidecar/webapp:latest -e ${oneLine(
        `const net = require("net");
         (async () => { for (const path of ${JSON.stringify(targets)}) {
           await new Promise((resolve) => { const s = net.connect(80, "ha", () => s.write("GET " + path + " HTTP/1.1\\r\\nHost: ha\\r\\n\\r\\n")); s.setTimeout(2000, () => { s.destroy(); resolve(); }); s.on("data", () => { s.destroy(); resolve(); }); s.on("error", resolve); });
         } })();`,
      )}`,
    );
    expect(sh(`docker inspect -f '{{.State.StartedAt}}' ${sidecar}`).trim()).toBe(startedAt);
    expect(sh(`curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:${process.env.SIDECAR_STATUS_PORT}/healthz`)).toBe(
      "200",
    );
  });

  it("relays no other container's secrets on the event stream (labels, exec command lines)", async () => {
    sh(
      `docker run -d --name hs-e2e-foreign-events --label ${TEST_LABEL} --label com.example.token=hs-e2e-secret-label ` +
        `--network none --entrypoint sh ha-sidecar/webapp:latest -c 'sleep 600'`,
    );
    // Read the sidecar's event stream through the proxy while the foreign container is exec'd
    // into (its command line holds a secret) and restarted (its labels hold another), until this
    // stack's own webapp's restart shows on it (the stream is alive) or a minute is over. The
    // reader says "connected" once the stream answers: only then is anything done.
    const webapp = containerOf("webapp", 2);
    const reader = spawn(
      "docker",
      [
        "exec",
        "-i",
        containerOf("sidecar"),
        "node",
        "-e",
        `const http = require("http");
         const f = encodeURIComponent(JSON.stringify({ type: ["container", "network"] }));
         let b = "";
         const done = () => { process.stdout.write(b); process.exit(0); };
         http.get({ host: "docker-proxy", port: 2375, path: "/events?filters=" + f }, (res) => {
           process.stderr.write("connected\\n");
           res.on("data", (c) => { b += c; if (b.includes(${JSON.stringify(webapp)})) done(); });
         });
         setTimeout(done, 60000);`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let events = "";
    let readerErr = "";
    reader.stdout.on("data", (c: Buffer) => (events += c.toString()));
    reader.stderr.on("data", (c: Buffer) => (readerErr += c.toString()));
    const ended = new Promise<number | null>((resolve) => reader.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      // A whole line: an error's echo of this source holds the word too.
      reader.stderr.on("data", () => readerErr.split("\n").includes("connected") && resolve());
      reader.on("close", () => reject(new Error("the event reader ended before it connected")));
    });
    await shAsync("docker exec hs-e2e-foreign-events sh -c 'echo hs-e2e-secret-cmdline >/dev/null'");
    await shAsync("docker restart -t 0 hs-e2e-foreign-events >/dev/null");
    await shAsync(`docker restart -t 1 ${webapp} >/dev/null`);
    const code = await ended;
    // It ended by itself (it read the webapp's restart, or a minute was over), with no error.
    expect(`exit ${code}: ${readerErr}`).toBe("exit 0: connected\n");
    expect(events).not.toContain("hs-e2e-secret");
    expect(events).not.toContain("exec_");
    // The stream is alive: this stack's own webapp's restart came through.
    expect(events).toContain(webapp);
  });
});

describe("least privilege inside the stack", () => {
  const inspect = (c: string, f: string): string => sh(`docker inspect -f '${f}' ${c}`).trim();

  it("runs HAProxy's workers in a group of their own, chrooted, with no capability; ha keeps only what it needs", () => {
    const ha = containerOf("ha");
    expect(inspect(ha, "{{.HostConfig.CapDrop}}")).toBe("[ALL]");
    expect(inspect(ha, "{{.HostConfig.CapAdd}}")).toBe("[CHOWN KILL NET_BIND_SERVICE SETGID SETUID SYS_CHROOT]");
    expect(inspect(ha, "{{.HostConfig.SecurityOpt}} {{.HostConfig.ReadonlyRootfs}}")).toBe(
      "[no-new-privileges:true] true",
    );
    const worker = sh(
      `docker top ${ha} -eo pid,uid,comm | awk '$2 == 10002 && $3 == "haproxy" { print $1; exit }'`,
    ).trim();
    const status = sh(`cat /proc/${worker}/status`);
    expect(status).toMatch(/^Gid:\s+10102\s+10102\s+10102\s+10102$/m);
    expect(status).toMatch(/^Groups:\s*$/m); // not the sidecar's 10100
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    // Chrooted: the volume (the config, the master socket) is not in its world at all.
    expect(sh(`ls /proc/${worker}/root/`).trim().split("\n")).toEqual(["dev"]);
  });

  it("serves the stats page on ha's control-network address only: from heig, nothing answers", () => {
    const r = sh(
      `docker run --rm --label ${TEST_LABEL} --network ${NETWORK} --entrypoint bash ha-sidecar/webapp:latest -c ` +
        `'(exec 3<>/dev/tcp/ha/1936) 2>/dev/null && echo stats-open || echo stats-closed; (exec 3<>/dev/tcp/ha/80) && echo http-open'`,
    );
    expect(r.trim().split("\n")).toEqual(["stats-closed", "http-open"]);
  });

  it("runs the app and the Serf agent as users of their own: the app cannot read the gossip key", () => {
    const webapp = containerOf("webapp", 1);
    expect(inspect(webapp, "{{.HostConfig.CapDrop}} {{.HostConfig.CapAdd}}")).toBe("[ALL] [KILL SETGID SETUID]");
    const procs = sh(`docker top ${webapp} -eo pid,uid,comm`)
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    const pidOf = (comm: string): string => procs.find(([, , c]) => c === comm)![0]!;
    expect(procs.find(([, , c]) => c === "node")![1]).toBe("10003");
    expect(procs.find(([, , c]) => c === "serf")![1]).toBe("10004");
    for (const comm of ["node", "serf"]) expect(sh(`cat /proc/${pidOf(comm)}/status`)).toMatch(/^CapEff:\s+0+$/m);
    const key = inspect(webapp, "{{range .Config.Env}}{{println .}}{{end}}")
      .split("\n")
      .find((e) => e.startsWith("SERF_ENCRYPT_KEY="))!
      .slice("SERF_ENCRYPT_KEY=".length);
    expect(key.length).toBeGreaterThan(10);
    // Not in the app's environment, not on any command line in the container.
    expect(sh(`tr '\\0' '\\n' < /proc/${pidOf("node")}/environ`)).not.toContain(key);
    for (const [pid] of procs)
      expect(sh(`tr '\\0' ' ' < /proc/${pid}/cmdline`, { allowFail: true })).not.toContain(key);
    // And the app's user cannot read the agent's config.
    expect(
      sh(`docker exec -u 10003 ${webapp} cat /var/lib/serf-agent/agent.json 2>&1; echo exit=$?`, { allowFail: true }),
    ).toMatch(/Permission denied[\s\S]*exit=1/);
  });

  it("rotates every service's log (HAProxy logs each request: traffic must not fill the disk)", () => {
    for (const service of ["ha", "docker-proxy", "sidecar", "serf", "webapp"])
      expect(
        inspect(containerOf(service), "{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}}"),
      ).toBe('json-file {"max-file":"3","max-size":"10m"}');
  });
});
