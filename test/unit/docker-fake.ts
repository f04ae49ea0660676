/**
 * A stand-in for dockerd on a unix socket of the test's own, and the same API on a TCP port of
 * 127.0.0.1 (`tcp://host:port`, how compose reaches the proxy): it records every request it gets
 * and answers as Docker does, with realistic bodies full of what must never leave the proxy
 * (every such value contains SECRET): Env, Cmd, Mounts, another project's labels, exec command
 * lines, service specs with env and secrets. Its containers can change and its event stream can
 * stay open for events sent one at a time (the bundle tests and the memory benchmark).
 */
import * as http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const SECRET = "SECRET";
const hex = (c: string): string => c.repeat(64);
export const IDS = { web: hex("a"), ha: hex("b"), otherHa: hex("c"), db: hex("d"), sidecar: hex("e"), proxy: hex("f") };

/** One container, as the fake lists and inspects it. */
export interface Fixture {
  readonly id: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly networks: Record<string, string>;
  readonly status: string;
}

const PROJECT = "com.docker.compose.project";
const SERVICE = "com.docker.compose.service";
export const CONTAINERS: readonly Fixture[] = [
  {
    id: IDS.web,
    name: "hs_webapp_1",
    labels: {
      "heig.lb.enable": "true",
      "heig.lb.port": "3000",
      [PROJECT]: "hs",
      [SERVICE]: "webapp",
      "com.docker.compose.oneoff": "False",
      "com.example.db-password": `${SECRET}-label-web`,
    },
    networks: { heig: "172.20.0.5", hs_default: "172.19.0.5" },
    status: "Up 3 seconds (healthy)",
  },
  {
    id: IDS.ha,
    name: "hs_ha_1",
    labels: { "heig.lb.role": "haproxy", [PROJECT]: "hs", [SERVICE]: "ha" },
    networks: { heig: "172.20.0.2" },
    status: "Up 1 minute",
  },
  {
    id: IDS.otherHa,
    name: "other_ha_1",
    labels: { "heig.lb.role": "haproxy", [PROJECT]: "other", "com.example.stats-password": `${SECRET}-label-ha` },
    networks: { heig: "172.20.0.9" },
    status: "Up 1 minute",
  },
  {
    id: IDS.db,
    name: "other_db_1",
    labels: { [PROJECT]: "other", "com.example.password": `${SECRET}-label-db` },
    networks: { other: "10.9.0.2" },
    status: "Up 2 hours",
  },
  {
    id: IDS.sidecar,
    name: "hs_sidecar_1",
    labels: { [PROJECT]: "hs", [SERVICE]: "sidecar" },
    networks: {},
    status: "Up",
  },
  { id: IDS.proxy, name: "hs_docker-proxy_1", labels: { [PROJECT]: "hs" }, networks: {}, status: "Up" },
];

/** `GET /containers/json`'s item, as Docker writes it. */
const summary = (c: Fixture): unknown => ({
  Id: c.id,
  Names: [`/${c.name}`],
  Image: "ha-sidecar/webapp:latest",
  ImageID: `sha256:${hex("9")}`,
  Command: `node app.js --password ${SECRET}-cmd`,
  Created: 1_700_000_000,
  Ports: [{ PrivatePort: 3000, Type: "tcp" }],
  Labels: c.labels,
  State: "running",
  Status: c.status,
  HostConfig: { NetworkMode: "heig" },
  NetworkSettings: {
    Networks: Object.fromEntries(
      Object.entries(c.networks).map(([name, ip]) => [
        name,
        { IPAMConfig: null, Aliases: [`${SECRET}-alias`], NetworkID: hex("7"), Gateway: "172.20.0.1", IPAddress: ip },
      ]),
    ),
  },
  Mounts: [{ Type: "bind", Source: `/srv/${SECRET}-mount`, Destination: "/data", RW: true }],
});

/** `GET /containers/{id}/json`, as Docker writes it. */
const inspect = (c: Fixture): unknown => ({
  Id: c.id,
  Created: "2026-11-25T14:00:00Z",
  Path: "node",
  Args: [`--token=${SECRET}-arg`],
  State: { Status: "running", Running: true, Pid: 42 },
  Name: `/${c.name}`,
  HostConfig: { Binds: [`/srv/${SECRET}-bind:/x`], CapAdd: null },
  Mounts: [{ Source: `/srv/${SECRET}-mount` }],
  Config: {
    Hostname: c.id.slice(0, 12),
    Env: [`DB_PASSWORD=${SECRET}-env`, `SERF_ENCRYPT_KEY=${SECRET}-serf`, `LB_STATS_PASSWORD=${SECRET}-stats`],
    Cmd: ["node", "app.js", `--password=${SECRET}-cmd`],
    Labels: c.labels,
  },
  NetworkSettings: { Networks: {} },
});

/** One event line's object, as Docker writes it. */
export const event = (
  Type: string,
  Action: string,
  ID: string,
  Attributes: Record<string, string>,
  atMs = 1_796_000_000_000,
): unknown => ({
  status: Action,
  id: ID,
  from: "ha-sidecar/webapp",
  Type,
  Action,
  Actor: { ID, Attributes },
  scope: "local",
  time: Math.floor(atMs / 1000),
  timeNano: atMs * 1_000_000,
});

/** The event stream's lines, as Docker sends them: ours, others', execs, garbage. */
export const EVENT_LINES: readonly string[] = [
  event("container", `exec_start: sh -c 'echo ${SECRET}-exec'`, IDS.web, { ...CONTAINERS[0]!.labels, execID: "x" }),
  event("container", "create", hex("5"), {
    "heig.lb.enable": "true",
    "heig.lb.backend": "api",
    [SERVICE]: "api",
    [PROJECT]: "hs",
    "com.example.token": `${SECRET}-attr`,
    image: "x",
    name: "hs_api_1",
  }),
  event("container", "start", IDS.db, { ...CONTAINERS[3]!.labels, name: "other_db_1" }),
  event("network", "connect", hex("7"), { name: "heig", container: IDS.web, type: "bridge" }),
  event("image", "pull", "x", { name: `${SECRET}-image` }),
  event("service", "update", "svc1", { name: "hs_webapp", "updatestate.new": "updating" }),
  event("container", "kill", IDS.web, { ...CONTAINERS[0]!.labels, name: "hs_webapp_1", signal: "15" }),
].map((e) => JSON.stringify(e));

/** `GET /services`: one of ours (opt-in on the service), one of ours (on its containers), one not. */
export const SERVICES: readonly unknown[] = [
  ["svc1", "hs_webapp", { "heig.lb.enable": "true", "com.docker.stack.namespace": "hs" }, {}],
  ["svc2", "hs_api", {}, { "heig.lb.enable": "true", "heig.lb.backend": "api" }],
  ["svc3", "other_db", { "com.example.password": `${SECRET}-service-label` }, {}],
].map(([id, name, labels, containerLabels]) => ({
  ID: id,
  Version: { Index: 7 },
  Spec: {
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: "x",
        Env: [`DB_PASSWORD=${SECRET}-service-env`],
        Labels: containerLabels,
        Secrets: [{ SecretName: `${SECRET}-secret-name` }],
      },
    },
  },
  UpdateStatus: { State: "completed", Message: `${SECRET}-update` },
}));

const task = (id: string, service: string, slot: number, address: string): unknown => ({
  ID: id,
  ServiceID: service,
  Slot: slot,
  NodeID: "node1",
  DesiredState: "running",
  Status: { State: "running", Message: "started", ContainerStatus: { ContainerID: hex("8"), PID: 7, ExitCode: 0 } },
  Spec: {
    ContainerSpec: {
      Image: "x",
      Env: [`SERF_RPC_AUTH=${SECRET}-task-env`],
      Labels: { "com.docker.stack.namespace": "hs", "com.example.k": `${SECRET}-task-label` },
    },
  },
  NetworksAttachments: [{ Network: { ID: "n", Spec: { Name: "heig", Labels: {} } }, Addresses: [`${address}/24`] }],
});
const TASKS: Record<string, unknown[]> = {
  svc1: [task("t1", "svc1", 1, "10.0.1.5")],
  svc2: [task("t2", "svc2", 1, "10.0.1.6")],
  svc3: [task("t3", "svc3", 1, "10.9.1.2")],
};

export interface Recorded {
  /** Which listener it came in on. */
  readonly via: "unix" | "tcp";
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** How the fake answers, changed by a test (and reset by `reset`). */
export interface FakeMode {
  /**
   * The event stream: sent and ended (`lines`), held open (one more event after `lateMs`), held
   * open for what `publish` sends (`live`), or never answered.
   */
  events: { kind: "lines" } | { kind: "held"; lateMs: number } | { kind: "live" } | { kind: "silent" };
  /** Answer `/services` with this raw body instead. */
  servicesBody: string | null;
}

export interface FakeDocker {
  readonly socketPath: string;
  /** The same API on 127.0.0.1:port. */
  readonly port: number;
  readonly requests: Recorded[];
  readonly mode: FakeMode;
  /** What it lists and inspects (CONTAINERS at start and after `reset`); may be changed. */
  readonly containers: Fixture[];
  /** Writes one event to every open `live` event stream whose type filter takes it. */
  publish(type: string, action: string, id: string, attributes: Record<string, string>): void;
  reset(): void;
  close(): Promise<void>;
}

export interface FakeOptions {
  /** The name the process under test inspects itself by (its hostname, in a container). */
  readonly selfName?: string;
  /** Keep a record of every request (false: `requests` stays empty, for long runs). */
  readonly record?: boolean;
  /** Told of every kill it answers, by full container id. */
  readonly onKill?: (id: string, signal: string) => void;
}

function matches(c: Fixture, filters: Record<string, string[]>): boolean {
  const labelOk = (filters.label ?? []).every((l) => {
    const [k, ...v] = l.split("=");
    return v.length === 0 ? c.labels[k!] !== undefined : c.labels[k!] === v.join("=");
  });
  const networkOk = (filters.network ?? []).every((n) => c.networks[n] !== undefined);
  return labelOk && networkOk;
}

function filtersOf(url: URL): Record<string, string[]> {
  try {
    return JSON.parse(url.searchParams.get("filters") ?? "{}") as Record<string, string[]>;
  } catch {
    return {};
  }
}

/** Starts the fake on a unix socket in a new temporary directory, and on a free port of 127.0.0.1. */
export async function startFakeDocker(options: FakeOptions = {}): Promise<FakeDocker> {
  const selfName = options.selfName ?? os.hostname();
  const dir = mkdtempSync(path.join(os.tmpdir(), "hs-fake-docker-"));
  const socketPath = path.join(dir, "docker.sock");
  const requests: Recorded[] = [];
  const mode: FakeMode = { events: { kind: "lines" }, servicesBody: null };
  const containers: Fixture[] = [...CONTAINERS];
  const live = new Set<{ res: http.ServerResponse; types: readonly string[] }>();
  const json = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json", "api-version": "1.41", server: "Docker/20.10" });
    res.end(`${typeof body === "string" ? body : JSON.stringify(body)}\n`);
  };
  const find = (ref: string): Fixture | undefined =>
    ref === selfName
      ? containers.find((c) => c.id === IDS.proxy)
      : containers.find((c) => c.id === ref || c.name === ref || (ref.length >= 12 && c.id.startsWith(ref)));

  const handler =
    (via: Recorded["via"]) =>
    (req: http.IncomingMessage, res: http.ServerResponse): void => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (options.record !== false)
          requests.push({ via, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        const url = new URL(req.url ?? "/", "http://docker");
        const p = url.pathname.replace(/^\/v1\.\d+/, "");
        const filters = filtersOf(url);
        const container = /^\/containers\/([^/]+)\/(json|kill)$/.exec(p);
        if (req.method === "GET" && p === "/_ping") {
          res.writeHead(200, { "content-type": "text/plain", "api-version": "1.41" });
          res.end("OK");
        } else if (req.method === "GET" && p === "/containers/json") {
          json(res, 200, containers.filter((c) => matches(c, filters)).map(summary));
        } else if (container !== null) {
          const c = find(container[1]!);
          if (c === undefined) json(res, 404, { message: `No such container: ${SECRET}-404 ${container[1]}` });
          else if (container[2] === "json" && req.method === "GET") json(res, 200, inspect(c));
          else if (container[2] === "kill" && req.method === "POST") {
            res.writeHead(204).end();
            options.onKill?.(c.id, url.searchParams.get("signal") ?? "SIGKILL");
          } else json(res, 405, { message: `${SECRET}-405` });
        } else if (req.method === "GET" && p === "/events" && mode.events.kind === "silent") {
          // A hung dockerd: the request is read, nothing is ever answered.
        } else if (req.method === "GET" && p === "/events") {
          res.writeHead(200, { "content-type": "application/json" });
          res.flushHeaders();
          const types = filters.type ?? [];
          const lines = EVENT_LINES.filter(
            (l) => types.length === 0 || types.includes((JSON.parse(l) as { Type: string }).Type),
          );
          const events = mode.events;
          if (events.kind === "live") {
            const stream = { res, types };
            live.add(stream);
            res.on("close", () => live.delete(stream));
            return;
          }
          if (events.kind === "held") {
            const timer = setTimeout(() => res.write(`${lines.at(-1)}\n`), events.lateMs);
            res.on("close", () => clearTimeout(timer));
            return;
          }
          // Garbage and an oversized line among them; a multi-byte character cut between writes.
          const text = Buffer.from(
            [
              ...lines.slice(0, 2),
              `not json ${SECRET}-garbage`,
              `{"Type":"container","Action":"start","pad":"${"x".repeat(3 << 19)}","s":"${SECRET}-huge"}`,
              ...lines.slice(2),
              JSON.stringify({
                Type: "container",
                Action: "start",
                Actor: { ID: IDS.web, Attributes: { "heig.lb.enable": "true", name: "hs_wébapp_1" } },
              }),
              "",
            ].join("\n"),
          );
          const cut = text.indexOf("é") + 1;
          res.write(text.subarray(0, cut));
          setTimeout(() => res.end(text.subarray(cut)), 5);
        } else if (req.method === "GET" && p === "/services") {
          if (mode.servicesBody !== null) json(res, 200, mode.servicesBody);
          else json(res, 200, SERVICES);
        } else if (req.method === "GET" && p === "/tasks") {
          json(
            res,
            200,
            (filters.service ?? []).flatMap((s) => TASKS[s] ?? []),
          );
        } else {
          // Anything off the list: what a real engine would hand out.
          json(res, 200, { Env: [`${SECRET}-off-the-list`] });
        }
      });
    };
  const servers = [http.createServer(handler("unix")), http.createServer(handler("tcp"))] as const;
  await new Promise<void>((resolve) => servers[0].listen(socketPath, resolve));
  await new Promise<void>((resolve) => servers[1].listen(0, "127.0.0.1", resolve));
  return {
    socketPath,
    port: (servers[1].address() as { port: number }).port,
    requests,
    mode,
    containers,
    publish(type, action, id, attributes) {
      const line = `${JSON.stringify(event(type, action, id, attributes, Date.now()))}\n`;
      for (const s of live) if (s.types.length === 0 || s.types.includes(type)) s.res.write(line);
    },
    reset() {
      requests.length = 0;
      mode.events = { kind: "lines" };
      mode.servicesBody = null;
      containers.splice(0, containers.length, ...CONTAINERS);
    },
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
