import * as net from "node:net";
import { decodeMultiStream, encode } from "@msgpack/msgpack";
import type { SerfMember } from "../model/types";

/** Serf's view of the cluster, as the sidecar needs it. */
export interface SerfSource {
  /** Current members; rejects when the agent cannot be reached. */
  members(): Promise<SerfMember[]>;
  /** Calls `onEvent` on every membership event until `signal` aborts; resolves when the stream ends. */
  stream(onEvent: (event: string) => void, signal: AbortSignal): Promise<void>;
}

interface RpcMember {
  Name?: string;
  Addr?: Uint8Array;
  Tags?: Record<string, string>;
  Status?: string;
}

/** Serf's `Addr` is a Go net.IP: 4 bytes, or 16 with IPv4 mapped into IPv6. */
export function serfAddr(addr: Uint8Array | undefined): string {
  if (!addr) return "";
  const b = Array.from(addr);
  if (b.length === 4) return b.join(".");
  if (b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return b.slice(12).join(".");
  const words: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(":");
}

export function mapMember(m: RpcMember): SerfMember {
  return { name: m.Name ?? "", address: serfAddr(m.Addr), status: m.Status ?? "unknown", tags: { ...(m.Tags ?? {}) } };
}

/**
 * Serf's RPC protocol: msgpack header `{Command, Seq}` then an optional body, over TCP to an
 * agent's rpc-addr; answers are a header `{Seq, Error}` and, for some commands, a body.
 */
export class SerfRpcClient implements SerfSource {
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs = 1_000,
  ) {}

  async members(): Promise<SerfMember[]> {
    const session = await this.open();
    try {
      session.send({ Command: "members", Seq: 1 });
      await session.header(1);
      const body = (await session.next()) as { Members?: RpcMember[] };
      return (body.Members ?? []).map(mapMember);
    } finally {
      session.close();
    }
  }

  async stream(onEvent: (event: string) => void, signal: AbortSignal): Promise<void> {
    const session = await this.open(false);
    const onAbort = (): void => session.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      session.send(
        { Command: "stream", Seq: 1 },
        { Type: "member-join,member-leave,member-failed,member-update,member-reap" },
      );
      await session.header(1);
      for (;;) {
        await session.header(1);
        const body = (await session.next()) as { Event?: string };
        onEvent(body.Event ?? "member-event");
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      session.close();
    }
  }

  private open(withTimeout = true): Promise<Session> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: this.host, port: this.port });
      const fail = (err: Error): void => {
        sock.destroy();
        reject(err);
      };
      if (withTimeout)
        sock.setTimeout(this.timeoutMs, () =>
          fail(new Error(`serf rpc ${this.host}:${this.port}: no answer within ${this.timeoutMs} ms`)),
        );
      sock.once("error", fail);
      sock.once("connect", () => {
        const session = new Session(sock);
        session.send({ Command: "handshake", Seq: 0 }, { Version: 1 });
        session.header(0).then(() => {
          sock.removeListener("error", fail);
          sock.on("error", () => undefined); // surfaced through the iterator
          resolve(session);
        }, fail);
      });
    });
  }
}

class Session {
  private readonly objects: AsyncIterator<unknown>;
  constructor(private readonly sock: net.Socket) {
    this.objects = decodeMultiStream(sock as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }

  send(header: object, body?: object): void {
    this.sock.write(encode(header));
    if (body !== undefined) this.sock.write(encode(body));
  }

  async next(): Promise<unknown> {
    const r = await this.objects.next();
    if (r.done) throw new Error("serf rpc connection closed");
    return r.value;
  }

  async header(seq: number): Promise<void> {
    const h = (await this.next()) as { Seq?: number; Error?: string };
    if (h.Error) throw new Error(`serf rpc: ${h.Error}`);
    if (h.Seq !== seq) throw new Error(`serf rpc: unexpected seq ${String(h.Seq)}`);
  }

  close(): void {
    this.sock.destroy();
  }
}
