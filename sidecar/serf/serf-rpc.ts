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

/** Serf's event stream went quiet without closing: not even a liveness check was answered. */
export class SerfStallError extends Error {
  override readonly name = "SerfStallError";
}

export interface SerfRpcOptions {
  /** Every call (connect, handshake, auth, members) answers within this. */
  readonly timeoutMs?: number;
  /** The agent's `-rpc-auth` key, or null. */
  readonly authKey?: string | null;
  /** The event stream is checked this often (a `members` call on its connection). */
  readonly livenessMs?: number;
}

/**
 * Serf's RPC protocol: msgpack header `{Command, Seq}` then an optional body, over TCP to an
 * agent's rpc-addr; answers are a header `{Seq, Error}` and, for some commands, a body.
 */
export class SerfRpcClient implements SerfSource {
  private readonly timeoutMs: number;
  private readonly livenessMs: number;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly opts: SerfRpcOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 1_000;
    this.livenessMs = opts.livenessMs ?? 10_000;
  }

  async members(): Promise<SerfMember[]> {
    const session = await this.open();
    try {
      const seq = session.send("members");
      await session.header(seq);
      const body = (await session.next()) as { Members?: RpcMember[] };
      return (body.Members ?? []).map(mapMember);
    } finally {
      session.close();
    }
  }

  /**
   * Follows membership events. A stream can stall without closing (a frozen agent, a dropped
   * route): every `livenessMs` a `members` call is made on the same connection, and if the
   * previous one is still unanswered the stream ends with SerfStallError.
   */
  async stream(onEvent: (event: string) => void, signal: AbortSignal): Promise<void> {
    const session = await this.open();
    session.untimed();
    const onAbort = (): void => session.close();
    signal.addEventListener("abort", onAbort, { once: true });
    let pending: number | null = null;
    let stalled = false;
    const check = setInterval(() => {
      if (pending !== null) {
        stalled = true;
        session.close();
        return;
      }
      pending = session.send("members");
    }, this.livenessMs);
    try {
      const streamSeq = session.send("stream", {
        Type: "member-join,member-leave,member-failed,member-update,member-reap",
      });
      await session.header(streamSeq);
      for (;;) {
        const h = await session.anyHeader();
        const body = (await session.next()) as { Event?: string };
        if (h.Seq === streamSeq) onEvent(body.Event ?? "member-event");
        else if (h.Seq === pending) pending = null;
      }
    } catch (err) {
      if (stalled)
        throw new SerfStallError(
          `serf rpc ${this.host}:${this.port}: event stream stalled (no answer for ${this.livenessMs} ms)`,
        );
      throw err;
    } finally {
      clearInterval(check);
      signal.removeEventListener("abort", onAbort);
      session.close();
    }
  }

  /** Connects, handshakes and authenticates, all within the timeout. */
  private open(): Promise<Session> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: this.host, port: this.port });
      const fail = (err: Error): void => {
        sock.destroy();
        reject(err);
      };
      sock.setTimeout(this.timeoutMs, () =>
        fail(new Error(`serf rpc ${this.host}:${this.port}: no answer within ${this.timeoutMs} ms`)),
      );
      sock.once("error", fail);
      sock.once("connect", () => {
        const session = new Session(sock);
        const ready = async (): Promise<void> => {
          await session.header(session.send("handshake", { Version: 1 }));
          const key = this.opts.authKey ?? null;
          if (key !== null) await session.header(session.send("auth", { AuthKey: key }));
        };
        ready().then(() => {
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
  private seq = 0;

  constructor(private readonly sock: net.Socket) {
    this.objects = decodeMultiStream(sock as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  }

  /** Sends a command; returns its sequence number. */
  send(command: string, body?: object): number {
    const seq = this.seq++;
    this.sock.write(encode({ Command: command, Seq: seq }));
    if (body !== undefined) this.sock.write(encode(body));
    return seq;
  }

  /** No more per-call timeout (a stream is quiet for as long as nothing happens). */
  untimed(): void {
    this.sock.setTimeout(0);
  }

  async next(): Promise<unknown> {
    const r = await this.objects.next();
    if (r.done) throw new Error("serf rpc connection closed");
    return r.value;
  }

  async anyHeader(): Promise<{ Seq?: number; Error?: string }> {
    const h = (await this.next()) as { Seq?: number; Error?: string };
    if (h.Error) throw new Error(`serf rpc: ${h.Error}`);
    return h;
  }

  async header(seq: number): Promise<void> {
    const h = await this.anyHeader();
    if (h.Seq !== seq) throw new Error(`serf rpc: unexpected seq ${String(h.Seq)}`);
  }

  close(): void {
    this.sock.destroy();
  }
}
