import * as net from "node:net";
import { TimeoutError } from "../lib/errors";

/**
 * Sends one command line to an HAProxy CLI socket (runtime or master) and returns the whole
 * answer. Rejects when the socket is missing or does not answer within `timeoutMs`.
 */
export function socketCommand(socketPath: string, command: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.createConnection({ path: socketPath });
    sock.setTimeout(timeoutMs, () => sock.destroy(new TimeoutError(`haproxy socket ${socketPath}`, timeoutMs)));
    sock.on("connect", () => sock.end(`${command}\n`));
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", reject);
    sock.on("close", (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}
