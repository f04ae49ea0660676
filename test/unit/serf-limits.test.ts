/**
 * The Serf RPC findings of the security review (issue 18, finding 4), each against a hostile
 * agent on 127.0.0.1: nested headers that made the decoder allocate 417 MB, a 64 MB string, an
 * answer dripped a byte at a time. And the pure pieces: the framer and the answers' checks.
 */
import { decode, encode } from "@msgpack/msgpack";
import { FrameError, MsgpackFramer, type MsgpackLimits } from "../../sidecar/serf/msgpack-frames";
import { parseEvent, parseHeader, parseMember, parseMembers } from "../../sidecar/serf/rpc-messages";
import { SERF_LIMITS, SerfRpcClient } from "../../sidecar/serf/serf-rpc";
import type { SerfMember } from "../../sidecar/model/types";
import { concat, eventually, ok, pieces, scriptedAgent } from "./serf-fixture";

const LIMITS: MsgpackLimits = { maxFrameBytes: 1024, maxDepth: 4, maxStrBytes: 64, maxBinBytes: 64, maxObjects: 20 };
const frames = (limits: MsgpackLimits, ...chunks: Uint8Array[]): unknown[] => {
  const framer = new MsgpackFramer(limits);
  const out: unknown[] = [];
  for (const c of chunks) {
    const { frames: done, error } = framer.push(c);
    out.push(...done.map((f) => decode(f)));
    if (error !== null) throw error;
  }
  return out;
};
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

describe("MsgpackFramer (pure)", () => {
  const values = [
    { Seq: 1, Error: "" },
    { Members: [{ Name: "a", Addr: bytes(10, 0, 0, 1), Tags: { role: "x" } }] },
    7,
    "s",
    null,
  ];
  const stream = concat(...values.map((v) => encode(v)));

  it("cuts a stream into whole objects, however it is chunked", () => {
    expect(frames(LIMITS, stream)).toEqual(values);
    expect(frames(LIMITS, ...pieces(stream, 1))).toEqual(values);
    expect(frames(LIMITS, ...pieces(stream, 3))).toEqual(values);
  });

  it("holds only an unfinished object's bytes, and says how many", () => {
    const framer = new MsgpackFramer(LIMITS);
    const whole = encode({ Members: [] });
    expect(framer.push(whole.subarray(0, 4))).toEqual({ frames: [], error: null });
    expect(framer.pending).toBe(4);
    expect(framer.push(whole.subarray(4)).frames).toHaveLength(1);
    expect(framer.pending).toBe(0);
  });

  it("gives the whole objects before a violation, then refuses every push", () => {
    const framer = new MsgpackFramer(LIMITS);
    const { frames: done, error } = framer.push(concat(encode(1), encode("two"), bytes(0xc1), encode(3)));
    expect(done.map((f) => decode(f))).toEqual([1, "two"]);
    expect(error).toEqual(new FrameError("0xc1 is not a msgpack type"));
    expect(framer.push(encode(4))).toEqual({ frames: [], error });
    expect(framer.pending).toBe(0);
  });

  it.each<[string, Uint8Array, string, MsgpackLimits?]>([
    ["a type byte msgpack does not have", bytes(0xc1), "0xc1 is not a msgpack type"],
    ["nesting past the depth", bytes(0x91, 0x91, 0x91, 0x91, 0x91, 0x01), "nested deeper than 4 levels"],
    [
      "an array32 of 2^32-1 items",
      bytes(0xdd, 0xff, 0xff, 0xff, 0xff),
      "a map or array of 4294967295 items cannot fit in 1024 bytes",
    ],
    [
      "a map16 whose entries cannot fit",
      bytes(0xde, 0x02, 0x00),
      "a map or array of 1024 items cannot fit in 1024 bytes",
    ],
    [
      "a str32 of 64 MB (the header is enough)",
      bytes(0xdb, 0x04, 0x00, 0x00, 0x00),
      "string of 67108864 bytes (at most 64)",
    ],
    ["a bin16 past the limit", bytes(0xc5, 0x01, 0x00), "binary of 256 bytes (at most 64)"],
    ["an ext32 past the limit", bytes(0xc9, 0x00, 0x01, 0x00, 0x00, 0x01), "binary of 65536 bytes (at most 64)"],
    [
      "an object past the frame size",
      concat(bytes(0x92, 0xd9, 60), new Uint8Array(60), bytes(0xd9, 60)),
      "object larger than 100 bytes",
      { ...LIMITS, maxFrameBytes: 100 },
    ],
    [
      "too many maps in one object",
      concat(bytes(0xdc, 0x00, 0x30), new Uint8Array(30).fill(0x80)),
      "more than 20 maps, arrays and binaries in one object",
    ],
  ])("refuses %s", (_, input, problem, limits = LIMITS) => {
    expect(() => frames(limits, input)).toThrow(new FrameError(problem));
  });

  it("refuses the review's 2 MB of nested array headers after the first few bytes", () => {
    const nested = new Uint8Array(2 << 20);
    for (let i = 0; i + 5 <= nested.length; i += 5) nested.set([0xdd, 0x00, 0x00, 0xff, 0xff], i);
    const framer = new MsgpackFramer(SERF_LIMITS);
    expect(framer.push(nested.subarray(0, 65_536)).error).toEqual(new FrameError("nested deeper than 16 levels"));
  });
});

describe("the Serf agent's answers, checked (pure)", () => {
  it.each<[unknown, unknown]>([
    [
      { Seq: 3, Error: "" },
      { seq: 3, error: "" },
    ],
    [{ Seq: 0 }, { seq: 0, error: "" }],
    [
      { Seq: 1, Error: "Invalid authentication token" },
      { seq: 1, error: "Invalid authentication token" },
    ],
    [[1], "header: an array, not a map"],
    [{ Seq: "1" }, "header: Seq is not a sequence number"],
    [{ Seq: -1 }, "header: Seq is not a sequence number"],
    [{ Seq: 1, Error: 5 }, "header: Error is a number, not a string"],
  ])("header %j → %j", (v, expected) => expect(parseHeader(v)).toEqual(expected));

  it.each<[unknown, unknown]>([
    [
      { Name: "a", Addr: bytes(10, 0, 0, 1), Status: "alive", Tags: { role: "webapp" }, Port: 7946 },
      { name: "a", address: "10.0.0.1", status: "alive", tags: { role: "webapp" } },
    ],
    [
      { Name: "a", Status: "failed", Addr: null, Tags: null },
      { name: "a", address: "", status: "failed", tags: {} },
    ],
    [{ Name: 5, Status: "alive" }, "member: Name is a number, not a string"],
    [{ Name: "a" }, "member a: Status is a undefined, not a string"],
    [{ Name: "a", Status: "alive", Addr: "10.0.0.1" }, "member a: Addr is a string, not 4 or 16 bytes"],
    [{ Name: "a", Status: "alive", Addr: bytes(1, 2, 3) }, "member a: Addr is binary, not 4 or 16 bytes"],
    [{ Name: "a", Status: "alive", Tags: "role=webapp" }, "member a: Tags is a string, not a map"],
    [{ Name: "a", Status: "alive", Tags: { role: ["webapp"] } }, "member a: tag role is an array, not a string"],
    ["a", "member: a string, not a map"],
  ])("member %j → %j", (v, expected) => expect(parseMember(v)).toEqual(expected));

  it("reads a members answer, nil as none, and fails it whole for one bad member", () => {
    expect(parseMembers({ Members: null })).toEqual([]);
    expect(parseMembers({ Members: [{ Name: "a", Status: "alive" }, { Name: "b" }] })).toBe(
      "member b: Status is a undefined, not a string",
    );
    expect(parseMembers({ Members: {} })).toBe("members: Members is a object, not an array");
  });

  it.each<[unknown, unknown]>([
    [{ Event: "member-join" }, { event: "member-join" }],
    [{ Event: "ready" }, { event: "member-event" }],
    [{ Event: 5 }, { event: "member-event" }],
    [null, "event: nil, not a map"],
  ])("event %j → %j", (v, expected) => expect(parseEvent(v)).toEqual(expected));
});

describe("the Serf RPC client against a hostile agent", () => {
  const member = { Name: "a1b2", Addr: bytes(172, 18, 0, 5), Status: "alive", Tags: { role: "webapp" } };
  interface Run {
    readonly members?: SerfMember[];
    readonly err?: Error;
    readonly tookMs: number;
    readonly closed: boolean;
  }
  const run = async (
    chunks: Uint8Array[],
    opts: { delayMs?: number; end?: boolean; timeoutMs?: number } = {},
  ): Promise<Run> => {
    const agent = await scriptedAgent({ chunks, delayMs: opts.delayMs ?? 0, end: opts.end ?? false });
    const started = Date.now();
    const result = await new SerfRpcClient("127.0.0.1", agent.port, { timeoutMs: opts.timeoutMs ?? 1_000 })
      .members()
      .then(
        (members): Pick<Run, "members" | "err"> => ({ members }),
        (err: Error) => ({ err }),
      );
    const tookMs = Date.now() - started;
    const closed = await eventually(() => agent.open() === 0);
    await agent.close();
    return { ...result, tookMs, closed };
  };

  it("refuses 2 MB of nested array headers at once, its memory flat, and closes the socket", async () => {
    const nested = new Uint8Array(2 << 20);
    for (let i = 0; i + 5 <= nested.length; i += 5) nested.set([0xdd, 0x00, 0x00, 0xff, 0xff], i);
    const before = process.memoryUsage();
    const r = await run([ok(0), ok(1), ...pieces(nested, 64 * 1024)]);
    const after = process.memoryUsage();
    expect(r.err).toMatchObject({
      name: "SerfProtocolError",
      message: expect.stringMatching(/nested deeper than 16 levels/),
    });
    expect(after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers)).toBeLessThan(64 << 20);
    expect(r.tookMs).toBeLessThan(2_000);
    expect(r.closed).toBe(true);
  });

  it("refuses a 64 MB string on its header, without waiting for it or decoding it", async () => {
    const r = await run([
      ok(0),
      ok(1),
      bytes(0x81, 0xa7, ...Buffer.from("Members"), 0xdb, 0x04, 0x00, 0x00, 0x00),
      new Uint8Array(1 << 20).fill(0x61),
    ]);
    expect(r.err).toMatchObject({
      name: "SerfProtocolError",
      message: expect.stringMatching(/string of 67108864 bytes/),
    });
    expect(r.tookMs).toBeLessThan(2_000);
    expect(r.closed).toBe(true);
  });

  it("gives up on an answer dripped a byte at a time at its deadline (total time, not idle time)", async () => {
    const answer = concat(ok(0), ok(1), encode({ Members: [member, member, member] }));
    const r = await run(pieces(answer, 1), { delayMs: 50, timeoutMs: 400 });
    expect(r.err).toMatchObject({ name: "TimeoutError" });
    expect(r.err?.message).toMatch(/^serf rpc 127\.0\.0\.1:\d+ members: no answer within 400 ms$/);
    expect(r.tookMs).toBeGreaterThanOrEqual(380);
    // Dripped whole, the answer would take ~20 s.
    expect(r.tookMs).toBeLessThan(2_000);
    expect(r.closed).toBe(true);
  });

  it("fails a members answer with a member of the wrong shape, as unreachable", async () => {
    const r = await run([ok(0), ok(1), encode({ Members: [member, { ...member, Name: 5 }] })]);
    expect(r.err).toMatchObject({
      name: "SerfProtocolError",
      message: expect.stringMatching(/member: Name is a number/),
    });
  });

  it("still reads a good answer, whole or in pieces", async () => {
    const answer = concat(ok(0), ok(1), encode({ Members: [member] }));
    const want = [{ name: "a1b2", address: "172.18.0.5", status: "alive", tags: { role: "webapp" } }];
    expect((await run([answer], { end: true })).members).toEqual(want);
    expect((await run(pieces(answer, 7), { delayMs: 1 })).members).toEqual(want);
  });

  it("ends an event stream whose answer breaks a limit, or trickles past its deadline", async () => {
    const stream = async (chunks: Uint8Array[], delayMs = 0) => {
      const agent = await scriptedAgent({ chunks, delayMs, end: false });
      const seen: string[] = [];
      const started = Date.now();
      const err = await new SerfRpcClient("127.0.0.1", agent.port, { timeoutMs: 300, livenessMs: 60_000 })
        .stream((e) => seen.push(e), new AbortController().signal)
        .then(
          () => null,
          (e: Error) => e,
        );
      const closed = await eventually(() => agent.open() === 0);
      await agent.close();
      return { err, seen, tookMs: Date.now() - started, closed };
    };
    const event = (name: unknown) => concat(ok(1), encode({ Event: name, Members: [] }));
    const big = await stream([
      ok(0),
      ok(1),
      event("member-join"),
      event("ready"),
      ok(1),
      encode({ Event: "x".repeat(70_000) }),
    ]);
    expect(big.seen).toEqual(["member-join", "member-event"]);
    expect(big.err).toMatchObject({
      name: "SerfProtocolError",
      message: expect.stringMatching(/string of 70000 bytes/),
    });
    expect(big.closed).toBe(true);
    const drip = await stream([ok(0), ok(1), ...pieces(event("member-leave"), 1)], 40);
    expect(drip.err).toMatchObject({
      name: "TimeoutError",
      message: expect.stringMatching(/one answer: no answer within 300 ms/),
    });
    expect(drip.tookMs).toBeLessThan(2_500);
    expect(drip.closed).toBe(true);
  });
});
