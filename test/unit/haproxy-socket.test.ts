/**
 * HAProxy's CLI answers, bounded (issue 18): a total deadline (not an idle one) and a size cap,
 * against a fake CLI socket; and the parsers of those answers never throw, whatever the text.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import {
  configIdOf,
  parseReloadCount,
  parseServersState,
  parseWorkerPid,
  parseShowStat,
  parseWorkerPids,
  replyError,
} from "../../sidecar/haproxy/parse";
import { RuntimeCommandError, SocketRuntimeClient, splitAnswers } from "../../sidecar/haproxy/runtime-client";
import { ReplyTooLargeError, socketCommand } from "../../sidecar/haproxy/socket";
import { TimeoutError } from "../../sidecar/lib/errors";
import { eventually } from "../support/eventually";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "hasock-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A CLI socket that answers each connection with `answer` and reports when the client hung up. */
async function fakeCli(
  answer: (sock: net.Socket) => void,
): Promise<{ path: string; open: () => number; close: () => Promise<void> }> {
  const p = path.join(dir, `cli-${Math.random().toString(36).slice(2)}.sock`);
  let open = 0;
  // HAProxy reads the command up to the client's half-close, then keeps writing its answer.
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    open += 1;
    sock.on("error", () => undefined);
    sock.on("close", () => (open -= 1));
    sock.once("data", () => answer(sock));
  });
  await new Promise<void>((r) => server.listen(p, () => r()));
  return { path: p, open: () => open, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("socketCommand", () => {
  it("returns the whole answer", async () => {
    const cli = await fakeCli((sock) => sock.end("description: ha-sidecar-abc\n"));
    await expect(socketCommand(cli.path, "show info")).resolves.toBe("description: ha-sidecar-abc\n");
    await cli.close();
  });

  it("gives up at its deadline on an answer that trickles in (total time, not idle time)", async () => {
    const cli = await fakeCli((sock) => {
      const drip = setInterval(() => (sock.writable ? sock.write("x") : clearInterval(drip)), 50);
      sock.on("close", () => clearInterval(drip));
    });
    const err = await socketCommand(cli.path, "show stat", 300).then(
      (answer) => `answered ${answer.length} bytes`,
      (e: unknown) => e,
    );
    // The drip never ends: without a total deadline this never settles (the test's own timeout).
    expect(err).toBeInstanceOf(TimeoutError);
    await eventually(() => expect(cli.open()).toBe(0), 10_000, 20);
    await cli.close();
  });

  it("refuses an answer past the cap and closes the socket", async () => {
    const cli = await fakeCli((sock) => {
      const block = Buffer.alloc(64 * 1024, 0x61);
      const flood = (): void => {
        while (sock.writable && sock.write(block));
        if (sock.writable) sock.once("drain", flood);
      };
      flood();
    });
    const err = await socketCommand(cli.path, "show stat", 2_000, 1 << 20).then(
      (answer) => `answered ${answer.length} bytes`,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplyTooLargeError);
    expect((err as Error).message).toMatch(/answer larger than 1048576 bytes$/);
    await eventually(() => expect(cli.open()).toBe(0), 10_000, 20);
    await cli.close();
  });
});

// Recorded from HAProxy 3.0.11 (the ha image): each answer ends with an empty line.
const ADDED = "New server registered.\n\n\n\n"; // add server …; enable health …; enable server …
const REFUSED = "Already exists a server with the same name in backend.\n\n\nNo such server.\n\n";
const ADD = [
  { command: "add server webapp/b 10.0.0.2:3000 check", success: /^New server registered\.$/ },
  { command: "enable health webapp/b", success: "empty" as const },
  { command: "enable server webapp/b", success: "empty" as const },
];

describe("commands on one line", () => {
  it("splits HAProxy's answers, one per command, an empty one included", () => {
    expect(splitAnswers(ADDED)).toEqual(["New server registered.", "", ""]);
    expect(splitAnswers(REFUSED)).toEqual([
      "Already exists a server with the same name in backend.",
      "",
      "No such server.",
    ]);
    expect(splitAnswers("1\n# be_id be_name\n2 webapp\n\n")).toEqual(["1\n# be_id be_name\n2 webapp"]);
    expect(splitAnswers("")).toEqual([]);
  });

  it("sends commands that go together as one line, on one connection", async () => {
    const lines: string[] = [];
    const cli = await fakeCli((sock) => {
      lines.push("connection");
      sock.end(ADDED);
    });
    const counted: number[] = [];
    const client = new SocketRuntimeClient(cli.path, cli.path, 2_000, (n) => counted.push(n));
    await client.commands(ADD);
    expect(lines).toEqual(["connection"]);
    expect(counted).toEqual([3]);
    await cli.close();
  });

  it("names the first command HAProxy refused, with its answer", async () => {
    const cli = await fakeCli((sock) => sock.end(REFUSED));
    const client = new SocketRuntimeClient(cli.path, cli.path);
    const err = await client.commands(ADD).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeCommandError);
    expect(err).toMatchObject({
      command: "add server webapp/b 10.0.0.2:3000 check",
      reply: "Already exists a server with the same name in backend.",
    });
    await cli.close();
  });

  it("takes a command left without an answer for a failure, even one that answers nothing", async () => {
    const cli = await fakeCli((sock) => sock.end("\n"));
    const client = new SocketRuntimeClient(cli.path, cli.path);
    await expect(client.commands(ADD.slice(1))).rejects.toMatchObject({
      command: "enable server webapp/b",
      reply: "(no answer)",
    });
    await cli.close();
  });

  it("refuses an answer that says less than the commands asked", async () => {
    const cli = await fakeCli((sock) => sock.end("New server registered.\n\n"));
    const client = new SocketRuntimeClient(cli.path, cli.path);
    // Two empty answers are missing: no answer is no success for a command that answers a sentence.
    await expect(client.commands([ADD[0]!, { command: "show info", success: /^Name:/ }])).rejects.toMatchObject({
      command: "show info",
      reply: "(no answer)",
    });
    await cli.close();
  });
});

describe("the parsers of HAProxy's answers (property)", () => {
  it("never throw, whatever the answer", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: fc.constantFrom(..."# ,\n0123456789abc:-_/ |"), maxLength: 300 }),
      fc
        .array(fc.string({ unit: fc.constantFrom(..."0123456789 ,aA#\n"), maxLength: 40 }), { maxLength: 8 })
        .map((ls) =>
          ["# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_port", ...ls].join(
            "\n",
          ),
        ),
      fc
        .array(fc.string({ maxLength: 40 }), { maxLength: 8 })
        .map((ls) => ["# pxname,svname,status", ...ls].join("\n")),
    );
    fc.assert(
      fc.property(text, (t) => {
        parseShowStat(t);
        parseServersState(t);
        parseWorkerPids(t);
        parseWorkerPid(t);
        parseReloadCount(t);
        configIdOf(t);
        replyError(t);
      }),
      { numRuns: 3_000 },
    );
  });
});
