/**
 * A hostile Serf agent on 127.0.0.1: it writes a script of bytes (each chunk after `delayMs`),
 * whatever the client sends, then ends the connection or leaves it open. It counts the
 * connections still open, so that tests can tell the client closed its socket.
 */
import * as net from "node:net";
import { encode } from "@msgpack/msgpack";

export interface Script {
  readonly chunks: readonly Uint8Array[];
  readonly delayMs: number;
  /** End the connection after the script (else it stays open until the client closes it). */
  readonly end: boolean;
}

export interface ScriptedAgent {
  readonly port: number;
  /** Connections the client has not closed yet. */
  open(): number;
  close(): Promise<void>;
}

export function scriptedAgent(script: Script): Promise<ScriptedAgent> {
  let open = 0;
  const server = net.createServer((sock) => {
    open += 1;
    let closed = false;
    sock.on("error", () => undefined);
    sock.on("close", () => {
      closed = true;
      open -= 1;
    });
    sock.resume();
    void (async () => {
      for (const chunk of script.chunks) {
        if (script.delayMs > 0) await new Promise((r) => setTimeout(r, script.delayMs));
        if (closed) return;
        // Backpressure: a client that stopped reading must not make the agent buffer without end.
        if (!sock.write(chunk)) await new Promise((r) => sock.once("drain", r).once("close", r));
      }
      if (script.end && !closed) sock.end();
    })();
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        open: () => open,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
          }),
      }),
    ),
  );
}

/** The agent's good answers, as msgpack: handshake (seq 0), then `members` or `stream` (seq 1). */
export const ok = (seq: number): Uint8Array => encode({ Seq: seq, Error: "" });

/** Splits bytes into pieces of `size` (the last one shorter). */
export function pieces(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

export const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

/** Polls `fn` until it is true or `timeoutMs` passes; whether it became true. */
export async function eventually(fn: () => boolean, timeoutMs = 1_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}
