import * as net from "node:net";
import { decodeMultiStream, encode } from "@msgpack/msgpack";
import { SerfRpcClient } from "../../sidecar/serf/serf-rpc";
import { eventually } from "../support/eventually";
import { serfAddr } from "../../sidecar/serf/rpc-messages";

/**
 * A tiny Serf agent RPC endpoint on 127.0.0.1 speaking the real msgpack framing. It records what
 * it was sent; the tests assert on the record (an assertion in here would be swallowed).
 */
function fakeAgent(
  members: unknown[],
  events: string[] = [],
  opts: { authKey?: string; answerMembersOnStream?: boolean } = {},
): Promise<{ port: number; commands: string[]; bodies: unknown[]; close: () => void }> {
  const commands: string[] = [];
  const bodies: unknown[] = [];
  const server = net.createServer(
    (sock) =>
      void (async () => {
        const objects = decodeMultiStream(sock as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
        const next = async () => (await objects.next()).value as Record<string, unknown>;
        let authed = false;
        let streaming = false;
        try {
          for (;;) {
            const header = await next();
            if (!header) return;
            const command = String(header["Command"]);
            commands.push(command);
            const seq = header["Seq"];
            if (command === "handshake") {
              bodies.push(await next());
              sock.write(encode({ Seq: seq, Error: "" }));
            } else if (command === "auth") {
              const body = (await next()) as { AuthKey?: string };
              bodies.push(body);
              authed = body.AuthKey === opts.authKey;
              sock.write(encode({ Seq: seq, Error: authed ? "" : "Invalid authentication token" }));
            } else if (opts.authKey !== undefined && !authed) {
              sock.write(encode({ Seq: seq, Error: "Authentication required" }));
            } else if (command === "members") {
              if (streaming && opts.answerMembersOnStream === false) continue;
              sock.write(encode({ Seq: seq, Error: "" }));
              sock.write(encode({ Members: members }));
            } else if (command === "stream") {
              streaming = true;
              bodies.push(await next());
              sock.write(encode({ Seq: seq, Error: "" }));
              for (const e of events) {
                sock.write(encode({ Seq: seq, Error: "" }));
                sock.write(encode({ Event: e, Members: [] }));
              }
            }
          }
        } catch {
          sock.destroy();
        }
      })(),
  );
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      resolve({ port: (server.address() as net.AddressInfo).port, commands, bodies, close: () => server.close() });
    }),
  );
}

describe("SerfRpcClient", () => {
  it("handshakes and lists members with their addresses", async () => {
    const agent = await fakeAgent([
      {
        Name: "a1b2",
        Addr: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 172, 18, 0, 5]),
        Port: 7946,
        Tags: { role: "webapp" },
        Status: "alive",
      },
      { Name: "c3d4", Addr: new Uint8Array([172, 18, 0, 6]), Port: 7946, Tags: {}, Status: "failed" },
    ]);
    const members = await new SerfRpcClient("127.0.0.1", agent.port).members();
    expect(members).toEqual([
      { name: "a1b2", address: "172.18.0.5", status: "alive", tags: { role: "webapp" } },
      { name: "c3d4", address: "172.18.0.6", status: "failed", tags: {} },
    ]);
    expect(agent.commands).toEqual(["handshake", "members"]);
    expect(agent.bodies).toEqual([{ Version: 1 }]);
    agent.close();
  });

  it("streams membership events until aborted", async () => {
    const agent = await fakeAgent([], ["member-join", "member-failed"]);
    const seen: string[] = [];
    const abort = new AbortController();
    const done = new SerfRpcClient("127.0.0.1", agent.port).stream((e) => {
      seen.push(e);
      if (seen.length === 2) abort.abort();
    }, abort.signal);
    await expect(done).rejects.toThrow();
    expect(seen).toEqual(["member-join", "member-failed"]);
    expect(agent.commands).toEqual(["handshake", "stream"]);
    expect(agent.bodies).toEqual([
      { Version: 1 },
      { Type: "member-join,member-leave,member-failed,member-update,member-reap" },
    ]);
    agent.close();
  });

  it("rejects when no agent answers", async () => {
    const server = net.createServer();
    const port = await new Promise<number>((r) =>
      server.listen(0, "127.0.0.1", () => r((server.address() as net.AddressInfo).port)),
    );
    server.close();
    await expect(new SerfRpcClient("127.0.0.1", port).members()).rejects.toThrow();
  });
});

describe("SerfRpcClient with an auth key and a stalled stream", () => {
  it("authenticates after the handshake when the agent requires a key", async () => {
    const agent = await fakeAgent([{ Name: "a", Addr: new Uint8Array([10, 0, 0, 1]), Status: "alive" }], [], {
      authKey: "s3cret-key",
    });
    const members = await new SerfRpcClient("127.0.0.1", agent.port, { authKey: "s3cret-key" }).members();
    expect(members.map((m) => m.name)).toEqual(["a"]);
    expect(agent.commands).toEqual(["handshake", "auth", "members"]);
    expect(agent.bodies).toEqual([{ Version: 1 }, { AuthKey: "s3cret-key" }]);
    await expect(new SerfRpcClient("127.0.0.1", agent.port, { authKey: "wrong-key!" }).members()).rejects.toThrow(
      /Invalid authentication/,
    );
    await expect(new SerfRpcClient("127.0.0.1", agent.port).members()).rejects.toThrow(/Authentication required/);
    agent.close();
  });

  it("ends a stream whose liveness check goes unanswered with a stall error", async () => {
    const agent = await fakeAgent([], [], { answerMembersOnStream: false });
    const abort = new AbortController();
    const done = new SerfRpcClient("127.0.0.1", agent.port, { livenessMs: 100 }).stream(() => undefined, abort.signal);
    await expect(done).rejects.toMatchObject({ name: "SerfStallError" });
    expect(agent.commands).toEqual(["handshake", "stream", "members"]);
    agent.close();
  });

  it("keeps a quiet stream whose liveness checks are answered", async () => {
    const agent = await fakeAgent([], []);
    const abort = new AbortController();
    // Each check must be answered within one period: 300 ms leaves a loaded machine (the unit
    // tier runs in parallel, maybe beside other work) time to answer, as a real agent would.
    const done = new SerfRpcClient("127.0.0.1", agent.port, { livenessMs: 300 }).stream(() => undefined, abort.signal);
    let ended: unknown = null;
    done.catch((err: unknown) => (ended = err));
    // Four checks sent, each answered before the next: the stream is still open.
    await eventually(
      () => expect(agent.commands.filter((c) => c === "members").length).toBeGreaterThanOrEqual(4),
      30_000,
    );
    expect(ended).toBeNull();
    abort.abort();
    await expect(done).rejects.not.toMatchObject({ name: "SerfStallError" });
    agent.close();
  });
});

describe("serfAddr", () => {
  it.each([
    [[172, 18, 0, 2], "172.18.0.2"],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 1], "10.0.0.1"],
    [[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "fe80:0:0:0:0:0:0:1"],
  ])("%j → %s", (bytes, ip) => expect(serfAddr(new Uint8Array(bytes))).toBe(ip));
});
