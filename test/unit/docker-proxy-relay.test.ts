/**
 * The Docker API proxy on the wire, without Docker: the real proxy in front of a fake dockerd on
 * a unix socket (docker-fake.ts) that records what reaches it. Random requests never get
 * anything off the allowlist to it and never get a secret back; malformed ones get a 400 and the
 * proxy goes on; the limits hold; the sidecar's own code (dockerode) works through it.
 */
import * as http from "node:http";
import { eventually } from "../support/eventually";
import * as net from "node:net";
import Docker from "dockerode";
import fc from "fast-check";
import pino from "pino";
import { DockerodeSource } from "../../sidecar/docker/dockerode-source";
import { followDockerEvents } from "../../sidecar/docker/event-stream";
import { mapDockerEvent, type DockerEventMessage } from "../../sidecar/docker/map";
import { startDockerProxy, type ProxyLimits } from "../../sidecar/docker-proxy/server";
import { DockerReplicaSource } from "../../sidecar/haproxy/docker-replica-source";
import { SwarmSource } from "../../sidecar/swarm/swarm-source";
import { onAllowlist, POLICY, requestLine } from "./docker-proxy-arbitraries";
import { IDS, SECRET, startFakeDocker, type FakeDocker } from "./docker-fake";

interface Raw {
  readonly status: number;
  readonly head: string;
  readonly body: string;
  readonly text: string;
}

/** One request written as bytes on a new connection; everything read until the proxy closes it. */
function raw(port: number, bytes: string | Buffer, waitMs = 3_000): Promise<Raw> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const at = text.indexOf("\r\n\r\n");
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0),
        head: at < 0 ? text : text.slice(0, at),
        body: at < 0 ? "" : text.slice(at + 4),
        text,
      });
    });
  });
}

const request = (method: string, url: string, headers: Record<string, string> = {}, body = ""): string =>
  `${method} ${url} HTTP/1.1\r\nHost: docker-proxy\r\n` +
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("") +
  `Connection: close\r\n\r\n${body}`;

const enc = (filters: unknown): string => encodeURIComponent(JSON.stringify(filters));
const EVENTS = `/events?filters=${enc({ type: ["container", "network"] })}`;

interface Proxy {
  readonly server: http.Server;
  readonly port: number;
  readonly logs: Array<Record<string, unknown>>;
  /** While set, a log line with this message throws (a bug inside the handler). */
  throwOn: string | null;
}

async function startProxy(
  docker: FakeDocker,
  limits: Partial<ProxyLimits> = {},
  requestTimeoutMs = 2_000,
): Promise<Proxy> {
  const proxy: Proxy = { server: null as unknown as http.Server, port: 0, logs: [], throwOn: null };
  const log = pino(
    { level: "debug" },
    {
      write: (line: string) => {
        const record = JSON.parse(line) as Record<string, unknown>;
        if (proxy.throwOn !== null && record["msg"] === proxy.throwOn) throw new Error("a bug in the handler");
        proxy.logs.push(record);
      },
    },
  );
  const server = await startDockerProxy({
    socketPath: docker.socketPath,
    host: "127.0.0.1",
    port: 0,
    requestTimeoutMs,
    reloadSelector: POLICY.reloadSelector,
    labelPrefix: POLICY.labelPrefix,
    limits,
    log,
  });
  return Object.assign(proxy, { server, port: (server.address() as net.AddressInfo).port });
}

const closeProxy = async (p: Proxy): Promise<void> => {
  p.server.closeAllConnections();
  await new Promise((r) => p.server.close(r));
};

let docker: FakeDocker;
let proxy: Proxy;

beforeAll(async () => {
  docker = await startFakeDocker();
  proxy = await startProxy(docker);
});

afterAll(async () => {
  await closeProxy(proxy);
  await docker.close();
});

beforeEach(() => docker.reset());

describe("the proxy in front of a fake dockerd, over random requests", () => {
  it("never relays anything off the allowlist, never a body, and never answers a secret", async () => {
    const bodies = fc.oneof(
      { weight: 6, arbitrary: fc.constant<[Record<string, string>, string]>([{}, ""]) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<[Record<string, string>, string]>(
          [{ "content-type": "application/json", "content-length": "20" }, '{"signal":"SIGUSR2"}'],
          [{ "content-length": "300" }, "x".repeat(300)],
          [{ "transfer-encoding": "chunked" }, "5\r\nhello\r\n0\r\n\r\n"],
          [{ upgrade: "tcp" }, ""],
        ),
      },
    );
    let relayed = 0;
    await fc.assert(
      fc.asyncProperty(requestLine, bodies, async ({ method, url }, [headers, body]) => {
        docker.reset();
        const res = await raw(proxy.port, request(method, url, headers, body));
        expect([200, 204, 400, 403, 404, 413]).toContain(res.status);
        expect(res.text).not.toContain(SECRET);
        for (const r of docker.requests) {
          expect(onAllowlist(r.method, r.url)).toBe(true);
          expect(r.body).toBe("");
        }
        if (docker.requests.length > 0) relayed++;
      }),
      { numRuns: 300 },
    );
    expect(relayed).toBeGreaterThan(10);
  });

  it.each([
    ["the containers of this stack", `/containers/json?all=false&filters=${enc({ label: ["heig.lb.enable"] })}`],
    ["this stack's haproxy", `/containers/json?filters=${enc({ label: ["heig.lb.role=haproxy"] })}`],
    ["the proxy's own container", `/containers/${IDS.proxy}/json`],
    ["the event stream", EVENTS],
    ["the services", "/services"],
    ["the tasks of every service", `/tasks?filters=${enc({ service: ["svc1", "svc2", "svc3"] })}`],
  ])("answers %s with no secret in it", async (_, url) => {
    const res = await raw(proxy.port, request("GET", url));
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(SECRET);
    expect(res.body.length).toBeGreaterThan(10);
  });

  it("answers another stack's container as not found, and Docker's errors with a message of its own", async () => {
    const other = await raw(proxy.port, request("GET", `/containers/${IDS.db}/json`));
    expect(other.status).toBe(404);
    const missing = await raw(proxy.port, request("GET", "/containers/nope/json"));
    expect(missing).toMatchObject({ status: 404, body: '{"message":"docker answered 404 Not Found"}\n' });
  });

  it("sends SIGUSR2 to this stack's haproxy only, by its id, without the client's body", async () => {
    const sigusr2 = { "content-type": "application/json", "content-length": "20" };
    expect(
      (
        await raw(
          proxy.port,
          request("POST", "/containers/hs_ha_1/kill?signal=SIGUSR2", sigusr2, '{"signal":"SIGUSR2"}'),
        )
      ).status,
    ).toBe(204);
    expect((await raw(proxy.port, request("POST", "/containers/other_ha_1/kill?signal=SIGUSR2"))).status).toBe(403);
    expect((await raw(proxy.port, request("POST", "/containers/hs_webapp_1/kill?signal=SIGUSR2"))).status).toBe(403);
    const kills = docker.requests.filter((r) => r.method === "POST");
    expect(kills.map((r) => [r.url, r.body, r.headers["content-type"]])).toEqual([
      [`/containers/${IDS.ha}/kill?signal=SIGUSR2`, "", undefined],
    ]);
  });
});

describe("malformed requests", () => {
  it.each([
    ["an absolute-form target that is no URL", request("GET", "http://[/")],
    ["a double slash", request("GET", "//x/_ping")],
    ["bad percent-encoding", request("GET", "/containers/%zz/json")],
    ["a repeated parameter", request("GET", "/_ping?a=1&a=2")],
    ["filters that are not JSON", request("GET", "/events?filters=%7Bnope")],
    ["a 20 KiB target", request("GET", `/_ping?x=${"a".repeat(20_000)}`)],
    ["a request line that is no HTTP", "GET /_ping HTTP/1.1 extra\r\n\r\n"],
    ["a header without a colon", "GET /_ping HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n"],
    ["binary", Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x0d, 0x0a, 0x0d, 0x0a])],
  ])("answers 400 to %s, with a JSON message, and answers the next request", async (_, bytes) => {
    const res = await raw(proxy.port, bytes);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ message: expect.stringContaining("denied") });
    expect(docker.requests).toEqual([]);
    expect(await raw(proxy.port, request("GET", "/_ping"))).toMatchObject({ status: 200, body: "OK" });
  });

  it("refuses an upgrade on an allowed path", async () => {
    const res = await raw(proxy.port, "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    expect(res.status).toBe(403);
    expect(docker.requests).toEqual([]);
  });

  it("logs every denial", async () => {
    proxy.logs.length = 0;
    await raw(proxy.port, request("GET", "/version"));
    expect(proxy.logs).toContainEqual(
      expect.objectContaining({ msg: "docker api request denied", url: "/version", status: 403 }),
    );
  });
});

describe("the event stream through the proxy", () => {
  it("relays our events only, reduced, line by line, past garbage, an oversized line and a cut character", async () => {
    const res = await raw(proxy.port, request("GET", EVENTS));
    expect(res.status).toBe(200);
    const events = res.body
      .split("\r\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as DockerEventMessage);
    expect(events.map((e) => [e.Type, e.Action, e.Actor?.Attributes?.["name"]])).toEqual([
      ["container", "create", "hs_api_1"],
      ["network", "connect", "heig"],
      ["container", "kill", "hs_webapp_1"],
      ["container", "start", "hs_wébapp_1"],
    ]);
    expect(proxy.logs).toContainEqual(expect.objectContaining({ msg: "oversized docker event dropped" }));
  });
});

describe("the sidecar's own code through the proxy", () => {
  const log = pino({ level: "silent" });
  const client = (): Docker => new Docker({ host: "127.0.0.1", port: proxy.port, protocol: "http" });

  it("lists this host's backends", async () => {
    const source = new DockerodeSource(client(), "heig", "heig.lb", log, { callTimeoutMs: 2_000, livenessMs: 10_000 });
    expect(await source.list()).toEqual([
      expect.objectContaining({
        id: IDS.web,
        name: "hs_webapp_1",
        group: "webapp",
        running: true,
        health: "healthy",
        address: "172.20.0.5",
        oneOff: false,
        labels: {
          "heig.lb.enable": "true",
          "heig.lb.port": "3000",
          "com.docker.compose.project": "hs",
          "com.docker.compose.service": "webapp",
          "com.docker.compose.oneoff": "False",
        },
      }),
    ]);
  });

  it("lists this stack's haproxy replicas, found through its own container's stack, and reloads one", async () => {
    const source = new DockerReplicaSource(
      client(),
      POLICY.reloadSelector,
      "heig.lb.replica",
      "heig",
      2_000,
      "hs_sidecar_1",
    );
    const { replicas, skipped } = await source.list();
    // Unlabelled: replica 1, on the flat socket paths, as today's single `ha`.
    expect(replicas).toEqual([
      { index: 1, labelled: false, containerId: IDS.ha, container: "hs_ha_1", state: "running" },
    ]);
    expect(skipped).toEqual([]);
    await expect(source.signal(replicas[0]!.containerId)).resolves.toBe("sent");
    expect(docker.requests.filter((r) => r.method === "POST").map((r) => r.url)).toEqual([
      `/containers/${IDS.ha}/kill?signal=SIGUSR2`,
    ]);
  });

  it("lists a swarm's tasks of our services", async () => {
    const source = new SwarmSource(client(), "heig", "heig.lb", log, {
      callTimeoutMs: 2_000,
      livenessMs: 10_000,
      convergingPollMs: 250,
      idlePollMs: 2_000,
    });
    const tasks = await source.list();
    expect(tasks.map((t) => [t.id, t.name, t.address, t.group])).toEqual([
      ["t1", "hs_webapp.1.t1", "10.0.1.5", "webapp"],
      // Named within its stack (its tasks' namespace label), as in compose mode.
      ["t2", "hs_api.1.t2", "10.0.1.6", "api"],
    ]);
    expect(docker.requests.map((r) => r.url)).toContain(`/tasks?filters=${enc({ service: ["svc1", "svc2"] })}`);
  });

  it("follows the event stream and reads the same hints as from Docker itself", async () => {
    const stop = new AbortController();
    const hints = await new Promise<unknown[]>((resolve) => {
      const seen: unknown[] = [];
      followDockerEvents(
        client(),
        { type: ["container", "network"] },
        (msg) => {
          const hint = mapDockerEvent(msg, "heig");
          if (hint !== null) seen.push(hint);
          if (seen.length === 4) resolve(seen);
        },
        () => undefined,
        stop.signal,
        { callTimeoutMs: 2_000, livenessMs: 10_000 },
        log,
      );
    });
    stop.abort();
    expect(hints).toEqual([
      {
        kind: "created",
        id: "5".repeat(64),
        cause: "create",
        group: "api",
        labels: {
          "heig.lb.enable": "true",
          "heig.lb.backend": "api",
          "com.docker.compose.service": "api",
          "com.docker.compose.project": "hs",
          name: "hs_api_1",
        },
      },
      { kind: "changed", id: IDS.web, cause: "network-connect" },
      { kind: "leaving", id: IDS.web, cause: "kill" },
      { kind: "started", id: IDS.web, cause: "start" },
    ]);
  });
});

describe("the proxy over time", () => {
  it("guards each Docker socket once, however many requests reuse it (no listener pile-up)", async () => {
    // Node's agent keeps sockets to Docker alive: these requests reuse one or two of them.
    for (let i = 0; i < 40; i++) {
      docker.reset();
      expect(
        (await raw(proxy.port, request("GET", "/containers/json?filters=" + enc({ label: ["heig.lb.enable"] }))))
          .status,
      ).toBe(200);
      expect(docker.requests).toHaveLength(1);
    }
    const pooled = Object.values(http.globalAgent.freeSockets).flat();
    expect(pooled.length).toBeGreaterThan(0);
    for (const socket of pooled) expect(socket!.listenerCount("error")).toBeLessThanOrEqual(2);
  });
});

describe("the proxy's limits", () => {
  let small: Proxy;
  beforeAll(async () => {
    small = await startProxy(
      docker,
      {
        maxConnections: 3,
        maxEventStreams: 2,
        requestReceiveMs: 300,
        maxUpstreamBodyBytes: 4096,
        maxEventLineBytes: 1024,
      },
      300,
    );
  });
  afterAll(() => closeProxy(small));

  /** An event stream through the proxy, open until destroyed; resolves with its status. */
  const openStream = (): Promise<{ status: number; events: string[]; req: http.ClientRequest }> =>
    new Promise((resolve, reject) => {
      const events: string[] = [];
      const req = http.get({ host: "127.0.0.1", port: small.port, path: EVENTS, agent: false }, (res) => {
        res.on("data", (c: Buffer) => events.push(c.toString()));
        res.on("error", () => undefined);
        resolve({ status: res.statusCode ?? 0, events, req });
      });
      req.on("error", reject);
    });

  it("answers 503 past the event streams allowed, and takes one again when one ends", async () => {
    docker.mode.events = { kind: "held", lateMs: 60_000 };
    const a = await openStream();
    const b = await openStream();
    expect([a.status, b.status]).toEqual([200, 200]);
    const c = await raw(small.port, request("GET", EVENTS));
    expect(c.status).toBe(503);
    expect(c.body).toContain("too many event streams");
    a.req.destroy();
    // Once the proxy has seen the first one close (polled: how soon depends on the machine).
    const d = await eventually(
      async () => {
        const s = await openStream();
        if (s.status !== 200) s.req.destroy();
        expect(s.status).toBe(200);
        return s;
      },
      10_000,
      20,
    );
    b.req.destroy();
    d.req.destroy();
  });

  it("answers 503 past the connections allowed, and serves again once they close", async () => {
    const idle = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(small.port, "127.0.0.1", () => resolve(s));
            s.on("error", () => undefined);
          }),
      ),
    );
    // Once the proxy has counted the three (polled: how soon depends on the machine).
    const over = await eventually(
      async () => {
        const r = await raw(small.port, request("GET", "/_ping"));
        expect(r.status).toBe(503);
        return r;
      },
      10_000,
      20,
    );
    expect(over.body).toContain("too many connections");
    idle.forEach((s) => s.destroy());
    await eventually(
      async () => expect((await raw(small.port, request("GET", "/_ping"))).status).toBe(200),
      10_000,
      20,
    );
  });

  it("closes a connection whose request is too slow to arrive, but never a long event stream", async () => {
    docker.mode.events = { kind: "held", lateMs: 700 };
    const stream = await openStream();
    const slow = await raw(small.port, "GET /_pi", 3_000);
    expect(slow.status).toBe(408);
    // The stream outlived the request timeout and still delivers.
    await eventually(() => expect(stream.events.join("")).toContain('"Action":"kill"'), 10_000, 50);
    stream.req.destroy();
  });

  it("answers 502 when Docker's answer is larger than allowed, or no JSON", async () => {
    docker.mode.servicesBody = JSON.stringify([{ ID: "x".repeat(8192) }]);
    expect((await raw(small.port, request("GET", "/services"))).status).toBe(502);
    docker.mode.servicesBody = "<html>";
    expect((await raw(small.port, request("GET", "/services"))).status).toBe(502);
    docker.mode.servicesBody = '{"not":"a list"}';
    expect((await raw(small.port, request("GET", "/services"))).status).toBe(502);
  });

  it("answers 504 when Docker does not start the event stream in time", async () => {
    docker.mode.events = { kind: "silent" };
    const res = await raw(small.port, request("GET", EVENTS));
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body)).toEqual({ message: "docker: no answer within 300 ms" });
  });

  it("answers 413 to a request body", async () => {
    const res = await raw(small.port, request("GET", "/_ping", { "content-length": "5" }, "hello"));
    expect(res.status).toBe(413);
    expect(docker.requests).toEqual([]);
  });

  it("answers 500 when the handler throws, logs it, and goes on", async () => {
    small.throwOn = "docker api request denied";
    try {
      const res = await raw(small.port, request("GET", "/version"));
      expect(res.status).toBe(500);
    } finally {
      small.throwOn = null;
    }
    expect(small.logs).toContainEqual(
      expect.objectContaining({
        msg: "docker api proxy failed a request",
        err: expect.objectContaining({ message: "a bug in the handler" }),
      }),
    );
    expect((await raw(small.port, request("GET", "/_ping"))).status).toBe(200);
  });
});
