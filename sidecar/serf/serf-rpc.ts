import * as net from "node:net";
import { Decoder, encode } from "@msgpack/msgpack";
import { TimeoutError, toError } from "../lib/errors";
import type { SerfMember } from "../model/types";
import { MsgpackFramer, type MsgpackLimits } from "./msgpack-frames";
import { parseEvent, parseHeader, parseMembers, type RpcHeader } from "./rpc-messages";

/** Serf's view of the cluster, as the sidecar needs it. */
export interface SerfSource {
  /** Current members; rejects when the agent cannot be reached. */
  members(): Promise<SerfMember[]>;
  /** Calls `onEvent` on every membership event until `signal` aborts; resolves when the stream ends. */
  stream(onEvent: (event: string) => void, signal: AbortSignal): Promise<void>;
}

/** The agent's bytes broke a limit or Serf's protocol: the connection was closed on it. */
export class SerfProtocolError extends Error {
  override readonly name = "SerfProtocolError";
}

/** The agent refused a command (a wrong auth key…); `agentError` is its own words. */
export class SerfAgentError extends Error {
  override readonly name = "SerfAgentError";
  constructor(
    where: string,
    readonly agentError: string,
  ) {
    super(`serf rpc ${where}: ${agentError.length > 200 ? `${agentError.slice(0, 200)}…` : agentError}`);
  }
}

/** The connection closed before the answer. */
export class SerfClosedError extends Error {
  override readonly name = "SerfClosedError";
}

/** Serf's event stream went quiet without closing: not even a liveness check was answered. */
export class SerfStallError extends Error {
  override readonly name = "SerfStallError";
}

/**
 * What one answer from the agent may be. A `members` answer is ~160 bytes and 3 objects a
 * member: 1 MiB holds about 6,500 members; 65,536 objects cap what the decoded answer costs
 * (~60 bytes an object, whatever the bytes) at a few MiB, against 256 MiB for the container.
 * Serf's tags total 512 bytes, its names a host name: 64 KiB a string is plenty.
 */
export const SERF_LIMITS: MsgpackLimits = {
  maxFrameBytes: 1 << 20,
  maxDepth: 16,
  maxStrBytes: 64 * 1024,
  maxBinBytes: 64 * 1024,
  maxObjects: 65_536,
};

/** Answers decoded and not read yet, past which the socket is paused (a flood waits in the kernel). */
const MAX_QUEUED_FRAMES = 64;

export interface SerfRpcOptions {
  /**
   * A call (connect, handshake, auth, members) is over within this, however the bytes trickle
   * in; on the event stream, an answer begun must be whole within this.
   */
  readonly timeoutMs?: number;
  /** The agent's `-rpc-auth` key, or null. */
  readonly authKey?: string | null;
  /** The event stream is checked this often (a `members` call on its connection). */
  readonly livenessMs?: number;
  readonly limits?: MsgpackLimits;
}

/**
 * Serf's RPC protocol: msgpack header `{Command, Seq}` then an optional body, over TCP to an
 * agent's rpc-addr; answers are a header `{Seq, Error}` and, for some commands, a body. Every
 * answer is bounded in size, depth and time and checked field by field; on any violation the
 * socket is destroyed and the call rejects with a typed error (SerfProtocolError, TimeoutError,
 * SerfAgentError, SerfClosedError, SerfStallError), which the Serf gate reads as "unreachable".
 */
export class SerfRpcClient implements SerfSource {
  private readonly timeoutMs: number;
  private readonly livenessMs: number;
  private readonly where: string;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly opts: SerfRpcOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 1_000;
    this.livenessMs = opts.livenessMs ?? 10_000;
    this.where = `${host}:${port}`;
  }

  async members(): Promise<SerfMember[]> {
    const session = this.connect();
    // Total time, not idle time: an agent that sends a byte now and then is no faster for it.
    const deadline = setTimeout(
      () => session.fail(new TimeoutError(`serf rpc ${this.where} members`, this.timeoutMs)),
      this.timeoutMs,
    );
    try {
      await this.ready(session);
      const seq = session.send("members");
      await session.header(seq);
      return checked(parseMembers(await session.next()), this.where);
    } finally {
      clearTimeout(deadline);
      session.close();
    }
  }

  /**
   * Follows membership events. A stream can stall without closing (a frozen agent, a dropped
   * route): every `livenessMs` a `members` call is made on the same connection, and if the
   * previous one is still unanswered the stream ends with SerfStallError.
   */
  async stream(onEvent: (event: string) => void, signal: AbortSignal): Promise<void> {
    const session = this.connect();
    const opening = setTimeout(
      () => session.fail(new TimeoutError(`serf rpc ${this.where} stream`, this.timeoutMs)),
      this.timeoutMs,
    );
    try {
      await this.ready(session);
    } catch (err) {
      session.close();
      throw err;
    } finally {
      clearTimeout(opening);
    }
    const onAbort = (): void => session.close();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) session.close();
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
        const body = await session.next();
        if (h.seq === streamSeq) onEvent(checked(parseEvent(body), this.where).event);
        else if (h.seq === pending) pending = null;
        else throw new SerfProtocolError(`serf rpc ${this.where}: answer to no command sent (seq ${h.seq})`);
      }
    } catch (err) {
      if (stalled)
        throw new SerfStallError(`serf rpc ${this.where}: event stream stalled (no answer for ${this.livenessMs} ms)`);
      throw err;
    } finally {
      clearInterval(check);
      signal.removeEventListener("abort", onAbort);
      session.close();
    }
  }

  private connect(): Session {
    const sock = net.connect({ host: this.host, port: this.port });
    return new Session(sock, this.where, this.opts.limits ?? SERF_LIMITS, this.timeoutMs);
  }

  /** Handshakes and authenticates (the socket buffers what is written before it connects). */
  private async ready(session: Session): Promise<void> {
    await session.header(session.send("handshake", { Version: 1 }));
    const key = this.opts.authKey ?? null;
    if (key !== null) await session.header(session.send("auth", { AuthKey: key }));
  }
}

function checked<T>(value: T | string, where: string): T {
  if (typeof value === "string") throw new SerfProtocolError(`serf rpc ${where}: ${value}`);
  return value;
}

/**
 * One connection: bytes → whole msgpack objects within the limits (msgpack-frames.ts) →
 * decoded values, read one at a time. An answer begun must be whole within `frameTimeoutMs`.
 * After a failure (a violation, a deadline, the socket closing) the values decoded before it are
 * still read, then every read rejects with that failure.
 */
class Session {
  private readonly framer: MsgpackFramer;
  private readonly decoder: Decoder;
  private readonly values: unknown[] = [];
  private waiter: { resolve: (v: unknown) => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;
  private frameTimer: ReturnType<typeof setTimeout> | null = null;
  private seq = 0;

  constructor(
    private readonly sock: net.Socket,
    private readonly where: string,
    limits: MsgpackLimits,
    private readonly frameTimeoutMs: number,
  ) {
    this.framer = new MsgpackFramer(limits);
    // The framer already holds frames to these; the decoder checks them again.
    this.decoder = new Decoder({
      maxStrLength: limits.maxStrBytes,
      maxBinLength: limits.maxBinBytes,
      maxExtLength: limits.maxBinBytes,
      maxArrayLength: limits.maxFrameBytes,
      maxMapLength: limits.maxFrameBytes,
    });
    sock.on("data", (chunk: Buffer) => this.onData(chunk));
    sock.on("error", (err) => this.fail(err));
    sock.on("close", () => this.fail(new SerfClosedError(`serf rpc ${where}: connection closed`)));
  }

  /** Sends a command; returns its sequence number. */
  send(command: string, body?: object): number {
    const seq = this.seq++;
    if (this.failure !== null) return seq;
    this.sock.write(encode({ Command: command, Seq: seq }));
    if (body !== undefined) this.sock.write(encode(body));
    return seq;
  }

  next(): Promise<unknown> {
    if (this.values.length > 0) {
      const v = this.values.shift();
      if (this.values.length <= MAX_QUEUED_FRAMES / 2 && this.sock.isPaused()) this.sock.resume();
      return Promise.resolve(v);
    }
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  async anyHeader(): Promise<RpcHeader> {
    const h = checked(parseHeader(await this.next()), this.where);
    if (h.error !== "") throw new SerfAgentError(this.where, h.error);
    return h;
  }

  async header(seq: number): Promise<void> {
    const h = await this.anyHeader();
    if (h.seq !== seq) throw new SerfProtocolError(`serf rpc ${this.where}: answer to seq ${h.seq}, not ${seq}`);
  }

  /** Ends the session with `err` (the first failure stays); the socket is destroyed. */
  fail(err: Error): void {
    if (this.failure !== null) return;
    this.failure = err;
    if (this.frameTimer !== null) clearTimeout(this.frameTimer);
    this.frameTimer = null;
    this.sock.destroy();
    if (this.values.length > 0) return;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
  }

  close(): void {
    this.fail(new SerfClosedError(`serf rpc ${this.where}: connection closed`));
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== null) return;
    const { frames, error } = this.framer.push(chunk);
    try {
      for (const frame of frames) this.values.push(this.decoder.decode(frame));
    } catch (err) {
      this.violated(err);
      return;
    }
    if (error !== null) {
      this.violated(error);
      return;
    }
    // Total time for one answer: a byte now and then never completes it.
    if (this.framer.pending === 0) {
      if (this.frameTimer !== null) clearTimeout(this.frameTimer);
      this.frameTimer = null;
    } else if (this.frameTimer === null) {
      this.frameTimer = setTimeout(
        () => this.fail(new TimeoutError(`serf rpc ${this.where}: one answer`, this.frameTimeoutMs)),
        this.frameTimeoutMs,
      );
    }
    if (this.values.length > MAX_QUEUED_FRAMES) this.sock.pause();
    this.deliver();
  }

  /** The answers before a violation are still read; then every read rejects with it. */
  private violated(err: unknown): void {
    this.fail(new SerfProtocolError(`serf rpc ${this.where}: ${toError(err).message}`, { cause: err }));
    this.deliver();
  }

  private deliver(): void {
    if (this.waiter === null || this.values.length === 0) return;
    const { resolve } = this.waiter;
    this.waiter = null;
    resolve(this.values.shift());
  }
}
