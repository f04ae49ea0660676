import * as net from "node:net";
import { TimeoutError } from "../lib/errors";

/**
 * `show stat` is ~400 bytes a server and `show servers state` ~200: 16 MiB holds the answers of
 * some 40,000 servers, past the 33,000 backends HAProxy was measured loading.
 */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** HAProxy's answer grew past the cap: the socket was closed on it. */
export class ReplyTooLargeError extends Error {
  override readonly name = "ReplyTooLargeError";
  constructor(
    readonly socketPath: string,
    readonly maxBytes: number,
  ) {
    super(`haproxy socket ${socketPath}: answer larger than ${maxBytes} bytes`);
  }
}

/**
 * Sends one command line to an HAProxy CLI socket (runtime or master) and returns the whole
 * answer. Rejects when the socket is missing, when the whole answer has not come within
 * `timeoutMs` (total time: an answer that trickles in is no faster for it), or when it grows
 * past `maxReplyBytes`; the socket is destroyed then.
 */
export function socketCommand(
  socketPath: string,
  command: string,
  timeoutMs = 2_000,
  maxReplyBytes = MAX_REPLY_BYTES,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const sock = net.createConnection({ path: socketPath });
    const deadline = setTimeout(
      () => sock.destroy(new TimeoutError(`haproxy socket ${socketPath}`, timeoutMs)),
      timeoutMs,
    );
    sock.on("connect", () => sock.end(`${command}\n`));
    sock.on("data", (c: Buffer) => {
      bytes += c.length;
      if (bytes > maxReplyBytes) sock.destroy(new ReplyTooLargeError(socketPath, maxReplyBytes));
      else chunks.push(c);
    });
    sock.on("error", reject);
    sock.on("close", (hadError) => {
      clearTimeout(deadline);
      if (!hadError) resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}
