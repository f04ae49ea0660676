/**
 * The simulated fleet of `make bench-scale`, in one process (a container on the bench's own
 * network): what is simulated is Docker and the apps, nothing else.
 *
 * - A fake Docker Engine API on a unix socket (FLEET_SOCKET), which the real docker-proxy relays
 *   to the real sidecar: `/_ping`, `/containers/json` (label, network, status and id filters),
 *   `/containers/{id}/json`, `/events` (type filter, a stream), and `POST /containers/{id}/kill`,
 *   forwarded to the real engine (FLEET_DOCKER) for the real HAProxy container only. Its answers
 *   have the shapes the real engine gives (test/integration/fleet-shapes.test.ts compares them,
 *   key by key, with the real engine's).
 * - N "containers": one listener each, all in this process, on this container's address and
 *   ports FLEET_BASE_PORT..+N-1, answering `GET /` and `HEAD /` with 200 (what the readiness
 *   probe and HAProxy's health checks ask). A container's listener is up before its start event:
 *   the time from the event to the server UP in HAProxy is the sidecar's alone.
 * - A control API on FLEET_CONTROL_PORT (JSON): `POST /fleet?n=N` (the fleet to N containers),
 *   `POST /start?count=K` (K new containers: create, then start events), `POST /stop?count=K`
 *   (the K newest: kill 15, die, stop, destroy), `GET /counters` (Docker API requests and bytes
 *   by route since the last `POST /counters/reset`), `GET /emitted` (when each start event went).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";

const env = process.env;
const SOCKET = env.FLEET_SOCKET ?? "/fleet/docker.sock";
const DOCKER = env.FLEET_DOCKER ?? "/host-run/docker.sock";
const NETWORK = env.FLEET_NETWORK ?? "hsscale-heig";
const PROJECT = env.FLEET_PROJECT ?? "hsscale";
const BASE_PORT = Number(env.FLEET_BASE_PORT ?? 20_000);
const CONTROL_PORT = Number(env.FLEET_CONTROL_PORT ?? 9000);
/** The real HAProxy container of this stack (looked up on the real engine): listed, and the only kill target. */
let haId = "";

interface FakeContainer {
  readonly id: string;
  readonly name: string;
  readonly number: number;
  readonly port: number;
  readonly created: number;
  listener: http.Server | null;
}

const ownIp = ((): string => {
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return "127.0.0.1";
})();
const networkId = crypto.createHash("sha256").update(NETWORK).digest("hex");
const containers = new Map<string, FakeContainer>();
let nextNumber = 1;
const subscribers = new Set<{ res: http.ServerResponse; types: ReadonlySet<string> | null }>();
const counters = new Map<string, { requests: number; bytes: number }>();
const emitted: Array<{ name: string; action: string; atMs: number }> = [];

/** One app's listener: 200 to every request, keep-alive as the client asks. */
function listen(port: number): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "x-backend-port": String(port) });
      res.end(req.method === "HEAD" ? undefined : "ok");
    });
    server.keepAliveTimeout = 65_000;
    server.once("error", reject);
    server.listen(port, "0.0.0.0", () => resolve(server));
  });
}

function labelsOf(c: FakeContainer): Record<string, string> {
  return {
    "com.docker.compose.config-hash": crypto.createHash("sha256").update("webapp").digest("hex"),
    "com.docker.compose.container-number": String(c.number),
    "com.docker.compose.oneoff": "False",
    "com.docker.compose.project": PROJECT,
    "com.docker.compose.project.config_files": "compose/docker-compose.yml",
    "com.docker.compose.project.working_dir": "/work/compose",
    "com.docker.compose.service": "webapp",
    "com.docker.compose.version": "1.29.2",
    "heig.lb.enable": "true",
    "heig.lb.port": String(c.port),
  };
}

/** A container as `GET /containers/json` lists it (the real engine's shape, Docker 20.10). */
function summaryOf(c: FakeContainer): Record<string, unknown> {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: "ha-sidecar/webapp:latest",
    ImageID: `sha256:${crypto.createHash("sha256").update("image").digest("hex")}`,
    Command: "/usr/local/bin/webapp-entrypoint",
    Created: c.created,
    Ports: [{ PrivatePort: c.port, Type: "tcp" }],
    Labels: labelsOf(c),
    State: "running",
    Status: "Up 3 minutes",
    HostConfig: { NetworkMode: NETWORK },
    NetworkSettings: {
      Networks: {
        [NETWORK]: {
          IPAMConfig: null,
          Links: null,
          Aliases: null,
          NetworkID: networkId,
          EndpointID: crypto.createHash("sha256").update(c.id).digest("hex"),
          Gateway: ownIp.replace(/\.\d+$/, ".1"),
          IPAddress: ownIp,
          IPPrefixLen: 16,
          IPv6Gateway: "",
          GlobalIPv6Address: "",
          GlobalIPv6PrefixLen: 0,
          MacAddress: "02:42:ac:19:00:08",
          DriverOpts: null,
        },
      },
    },
    Mounts: [],
  };
}

/** An event as `GET /events` streams it. */
function eventOf(c: FakeContainer, action: string, extra: Record<string, string> = {}): Record<string, unknown> {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  return {
    status: action,
    id: c.id,
    from: "ha-sidecar/webapp:latest",
    Type: "container",
    Action: action,
    Actor: { ID: c.id, Attributes: { ...labelsOf(c), image: "ha-sidecar/webapp:latest", name: c.name, ...extra } },
    scope: "local",
    time: Math.floor(Date.now() / 1000),
    timeNano: Number(nowNs),
  };
}

function emit(c: FakeContainer, action: string, extra: Record<string, string> = {}): void {
  const line = `${JSON.stringify(eventOf(c, action, extra))}\n`;
  for (const s of subscribers) if (s.types === null || s.types.has("container")) s.res.write(line);
  emitted.push({ name: c.name, action, atMs: Date.now() });
  if (emitted.length > 100_000) emitted.splice(0, 50_000);
}

async function create(): Promise<FakeContainer> {
  const number = nextNumber++;
  const c: FakeContainer = {
    id: crypto.createHash("sha256").update(`fleet-${number}`).digest("hex"),
    name: `${PROJECT}_webapp_${number}`,
    number,
    port: BASE_PORT + number - 1,
    created: Math.floor(Date.now() / 1000),
    listener: null,
  };
  c.listener = await listen(c.port);
  return c;
}

/** K new containers, listening first; their events go once all of them listen (a burst). */
async function start(count: number, withEvents: boolean): Promise<string[]> {
  const fresh = await Promise.all(Array.from({ length: count }, () => create()));
  for (const c of fresh) {
    containers.set(c.id, c);
    if (withEvents) emit(c, "create");
  }
  if (withEvents) for (const c of fresh) emit(c, "start");
  return fresh.map((c) => c.name);
}

async function stop(count: number): Promise<string[]> {
  const newest = [...containers.values()].sort((a, b) => b.number - a.number).slice(0, count);
  for (const c of newest) emit(c, "kill", { signal: "15" });
  for (const c of newest) {
    containers.delete(c.id);
    emit(c, "die", { exitCode: "0" });
    emit(c, "stop");
    emit(c, "destroy");
    await new Promise<void>((resolve) => (c.listener === null ? resolve() : c.listener.close(() => resolve())));
  }
  return newest.map((c) => c.name);
}

function count(route: string, bytes: number): void {
  const c = counters.get(route) ?? { requests: 0, bytes: 0 };
  c.requests++;
  c.bytes += bytes;
  counters.set(route, c);
}

function sendJson(res: http.ServerResponse, route: string, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  count(route, Buffer.byteLength(text));
  res.writeHead(status, { "content-type": "application/json", "api-version": "1.41", "docker-experimental": "false" });
  res.end(text);
}

/** The labels filter: every `key` or `key=value` must match. */
function matchesLabels(labels: Record<string, string>, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const i = w.indexOf("=");
    return i < 0 ? labels[w] !== undefined : labels[w.slice(0, i)] === w.slice(i + 1);
  });
}

/** The real HAProxy container, as the real engine lists and inspects it (its labels, this network). */
async function realHa(): Promise<{ summary: Record<string, unknown>; inspect: Record<string, unknown> } | null> {
  if (haId === "") {
    const f = encodeURIComponent(
      JSON.stringify({ label: ["heig.lb.role=haproxy", `com.docker.compose.project=${PROJECT}`] }),
    );
    const found = (await dockerJson("GET", `/containers/json?filters=${f}`)) as Array<{ Id: string }> | null;
    haId = found?.[0]?.Id ?? "";
    if (haId === "") return null;
  }
  const inspect = await dockerJson("GET", `/containers/${haId}/json`);
  if (inspect === null) {
    haId = ""; // restarted or gone: look it up again next time
    return null;
  }
  const i = inspect as {
    Id: string;
    Name: string;
    Config: { Labels: Record<string, string> };
    NetworkSettings: unknown;
  };
  return {
    summary: {
      Id: i.Id,
      Names: [i.Name],
      Labels: i.Config.Labels,
      State: "running",
      Status: "Up",
      NetworkSettings: i.NetworkSettings,
    },
    inspect: i,
  };
}

const isHa = (ref: string): boolean => haId !== "" && (ref === haId || (ref.length >= 12 && haId.startsWith(ref)));

function dockerJson(method: string, path: string): Promise<unknown> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: DOCKER, method, path, headers: { host: "docker" } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => {
        try {
          resolve(res.statusCode !== undefined && res.statusCode < 300 ? (body === "" ? {} : JSON.parse(body)) : null);
        } catch {
          resolve(null);
        }
      });
    });
    req.on("error", () => resolve(null));
    req.end();
  });
}

const docker = http.createServer((req, res) => {
  void (async () => {
    const url = new URL(req.url ?? "/", "http://docker");
    const path = url.pathname.replace(/^\/v1\.\d+/, "");
    const filters = JSON.parse(url.searchParams.get("filters") ?? "{}") as Record<string, string[]>;
    if (path === "/_ping") {
      count("ping", 2);
      res.writeHead(200, { "content-type": "text/plain", "api-version": "1.41" });
      return res.end("OK");
    }
    if (path === "/containers/json") {
      const labels = filters.label ?? [];
      const onNetwork = filters.network === undefined || filters.network.includes(NETWORK);
      // A listing narrowed to ids (the containers a hint named) costs what they are, not the fleet.
      const chosen =
        filters.id === undefined
          ? [...containers.values()]
          : filters.id.flatMap((id) => {
              const c = containers.get(id);
              return c === undefined ? [] : [c];
            });
      const items = onNetwork ? chosen.map(summaryOf) : [];
      const ha = await realHa();
      if (ha !== null) items.push(ha.summary);
      // Counted apart: the whole listing (resyncs), the one narrowed to ids (hints), HAProxy's.
      const kind =
        filters.id !== undefined ? "list by id" : onNetwork && filters.network !== undefined ? "list" : "list haproxy";
      return sendJson(
        res,
        kind,
        200,
        items.filter((i) => matchesLabels(i.Labels as Record<string, string>, labels)),
      );
    }
    const inspect = /^\/containers\/([^/]+)\/json$/.exec(path);
    if (inspect !== null) {
      const ha = await realHa();
      if (ha !== null && isHa(inspect[1]!)) return sendJson(res, "inspect", 200, ha.inspect);
      return sendJson(res, "inspect", 404, { message: `No such container: ${inspect[1]}` });
    }
    const kill = /^\/containers\/([^/]+)\/kill$/.exec(path);
    if (kill !== null && req.method === "POST") {
      await realHa();
      if (!isHa(kill[1]!)) return sendJson(res, "kill", 404, { message: "No such container" });
      // SIGUSR2 whatever was asked: the proxy in front lets nothing else through anyway.
      await dockerJson("POST", `/containers/${haId}/kill?signal=SIGUSR2`);
      count("kill", 0);
      res.writeHead(204);
      return res.end();
    }
    if (path === "/events") {
      count("events", 0);
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
      const sub = { res, types: filters.type === undefined ? null : new Set(filters.type) };
      subscribers.add(sub);
      res.on("close", () => subscribers.delete(sub));
      return;
    }
    sendJson(res, "other", 404, { message: "page not found" });
  })().catch((err: unknown) => {
    if (!res.headersSent) sendJson(res, "error", 500, { message: (err as Error).message });
  });
});

const control = http.createServer((req, res) => {
  void (async () => {
    const url = new URL(req.url ?? "/", "http://control");
    const n = Number(url.searchParams.get("n") ?? url.searchParams.get("count") ?? 0);
    const json = (body: unknown): void => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "POST" && url.pathname === "/fleet") {
      // Silently (no events): the fleet a pass finds at start or at the next listing.
      if (n > containers.size) await start(n - containers.size, url.searchParams.get("events") === "1");
      else if (n < containers.size) await stop(containers.size - n);
      return json({ size: containers.size });
    }
    if (req.method === "POST" && url.pathname === "/start") return json({ started: await start(n, true) });
    if (req.method === "POST" && url.pathname === "/stop") return json({ stopped: await stop(n) });
    if (req.method === "GET" && url.pathname === "/counters") return json(Object.fromEntries(counters));
    if (req.method === "POST" && url.pathname === "/counters/reset") {
      counters.clear();
      return json({});
    }
    if (req.method === "GET" && url.pathname === "/emitted") return json(emitted.filter((e) => e.action === "start"));
    if (req.method === "GET" && url.pathname === "/size") return json({ size: containers.size, ip: ownIp });
    res.writeHead(404);
    res.end();
  })().catch((err: unknown) => {
    res.writeHead(500);
    res.end((err as Error).message);
  });
});

fs.rmSync(SOCKET, { force: true });
docker.listen(SOCKET, () => {
  // The proxy runs as root without capabilities; the socket must be connectable by it.
  fs.chmodSync(SOCKET, 0o666);
  control.listen(CONTROL_PORT, "0.0.0.0", () =>
    process.stdout.write(
      `${JSON.stringify({ msg: "fleet ready", ip: ownIp, socket: SOCKET, control: CONTROL_PORT })}\n`,
    ),
  );
});
