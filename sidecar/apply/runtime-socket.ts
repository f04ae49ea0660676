import * as net from "node:net";

/**
 * Sends one command to an HAProxy runtime (stats) socket and returns the whole answer.
 * Rejects when the socket is missing or does not answer within `timeoutMs`.
 */
export function runtimeCommand(socketPath: string, command: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.createConnection({ path: socketPath });
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`runtime socket ${socketPath}: no answer within ${timeoutMs} ms`)));
    sock.on("connect", () => sock.end(`${command}\n`));
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", reject);
    sock.on("close", (hadError) => {
      if (!hadError) resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}

/** Extracts `description` from the output of `show info`, or null when it is absent. */
export function parseDescription(showInfo: string): string | null {
  const m = /^description: (.*)$/m.exec(showInfo);
  return m ? m[1]!.trim() : null;
}
