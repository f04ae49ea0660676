/**
 * The real status server on 127.0.0.1 (any free port) over a scripted view, and requests sent as
 * raw bytes: `http.get` refuses the broken targets these tests are about, Node's server does not.
 */
import type * as http from "node:http";
import * as net from "node:net";
import pino from "pino";
import { ChangeLog } from "../../sidecar/changes/change-log";
import type { ChangeRecord } from "../../sidecar/changes/records";
import type { LoopView } from "../../sidecar/reconcile/types";
import { Metrics } from "../../sidecar/status/metrics";
import { startStatusServer, type StatusView } from "../../sidecar/status/status-server";

export const NOW = Date.UTC(2030, 0, 1, 12);

export const healthyLoop: LoopView = {
  eventsConnected: true,
  last: {
    ok: true,
    at: NOW - 1_000,
    outcome: { kind: "unchanged" },
    state: { defaultService: "webapp", services: [] },
    excluded: [],
    awaitingReadiness: 0,
    drainPanic: [],
  },
  lastReload: null,
  lastRuntime: null,
  lastRejected: null,
  lastPassMs: null,
  serf: null,
};

/** Every pino line the server logged, parsed. */
export interface LogLines {
  readonly lines: Array<Record<string, unknown>>;
}

export function capturingLogger(): { log: pino.Logger; logged: LogLines } {
  const logged: LogLines = { lines: [] };
  const log = pino(
    { level: "debug" },
    { write: (line: string) => void logged.lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, logged };
}

export interface StatusFixture {
  readonly port: number;
  readonly server: http.Server;
  readonly logged: LogLines;
  /** What the view answers; tests swap parts of it. */
  view: {
    loop: () => LoopView;
    records: ChangeRecord[];
    replicaStatuses: StatusView["replicaStatuses"];
    replicas: StatusView["replicas"];
  };
  close(): Promise<void>;
}

export async function startFixture(allowedHosts: readonly string[] = []): Promise<StatusFixture> {
  const { log, logged } = capturingLogger();
  const fixture = {
    view: {
      loop: () => healthyLoop,
      records: [] as ChangeRecord[],
      replicaStatuses: async () => [{ replica: "1", statuses: new Map([["webapp/web_1", "UP"]]) }],
      replicas: (): ReturnType<StatusView["replicas"]> => [],
    },
  };
  const changes = new ChangeLog(null, { now: () => NOW } as never, pino({ level: "silent" }), {
    keep: 10,
    source: "docker",
  });
  const [server] = await startStatusServer(
    0,
    ["127.0.0.1"],
    {
      loop: () => fixture.view.loop(),
      replicaStatuses: () => fixture.view.replicaStatuses(),
      replicas: () => fixture.view.replicas(),
      metrics: new Metrics(),
      changes: {
        query: (filter) => (fixture.view.records.length > 0 ? fixture.view.records : changes.query(filter)),
      },
      staleAfterMs: 60_000,
      clock: { now: () => NOW },
    },
    { log, allowedHosts },
  );
  return Object.assign(fixture, {
    port: (server!.address() as net.AddressInfo).port,
    server: server!,
    logged,
    close: () => new Promise<void>((resolve) => server!.close(() => resolve())),
  });
}

export interface RawAnswer {
  /** The status code of the answer's status line; null when the connection closed without one. */
  readonly status: number | null;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Writes `head` (a request line and headers, as latin1 bytes) on a new connection; reads the answer until close. */
export function rawRequest(port: number, head: string, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(head.slice(0, 200))}`));
    }, timeoutMs);
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", () => undefined);
    sock.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const headLines = (split < 0 ? text : text.slice(0, split)).split("\r\n");
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(headLines[0] ?? "");
      const headers: Record<string, string> = {};
      for (const l of headLines.slice(1)) {
        const colon = l.indexOf(":");
        if (colon > 0) headers[l.slice(0, colon).toLowerCase()] = l.slice(colon + 1).trim();
      }
      resolve({ status: m ? Number(m[1]) : null, headers, body: split < 0 ? "" : text.slice(split + 4) });
    });
    sock.end(Buffer.from(head, "latin1"));
  });
}

/** `GET <target>` with `Host` (none when null), on a connection of its own. */
export function getRaw(port: number, target: string, host: string | null = "127.0.0.1"): Promise<RawAnswer> {
  const hostLine = host === null ? "" : `Host: ${host}\r\n`;
  return rawRequest(port, `GET ${target} HTTP/1.1\r\n${hostLine}Connection: close\r\n\r\n`);
}
