/**
 * Property: whatever a Serf agent sends (good answers, answers of the wrong shape, random
 * msgpack, random bytes, headers that claim huge sizes or deep nesting, all of it in random
 * pieces, some dripped), the client resolves with well-formed members or rejects with a typed
 * error within its deadline, closes its socket, and its memory stays bounded. The framer alone:
 * any msgpack stream, cut anywhere, gives back the same objects.
 */
import { decode, encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { TimeoutError } from "../../sidecar/lib/errors";
import { MsgpackFramer } from "../../sidecar/serf/msgpack-frames";
import { MEMBER_EVENTS } from "../../sidecar/serf/rpc-messages";
import {
  SERF_LIMITS,
  SerfAgentError,
  SerfClosedError,
  SerfProtocolError,
  SerfRpcClient,
  SerfStallError,
} from "../../sidecar/serf/serf-rpc";
import { concat, eventually, ok, pieces, scriptedAgent, type Script } from "./serf-fixture";

const TIMEOUT_MS = 120;
/**
 * Two dozen clients and agents run at once here, on a 2-core machine that may be busy with other
 * work: timers fire late. A client without a total deadline never settles at all.
 */
const SLACK_MS = 10_000;
const TYPED = [SerfProtocolError, SerfAgentError, SerfClosedError, SerfStallError, TimeoutError];

/** Values msgpack can carry (bins included), a few levels deep. */
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 2 ** 40, 1.5),
    fc.integer(),
    fc.string({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie("v"), { maxKeys: 4 }),
  ),
})).v;
const goodMember = fc.record({
  Name: fc.string({ maxLength: 12 }),
  Addr: fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })),
  Status: fc.constantFrom("alive", "failed", "left", "leaving"),
  Tags: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  Port: fc.integer({ min: 0, max: 65535 }),
});
/** A member with one field swapped for any value. */
const oddMember = fc
  .tuple(goodMember, fc.constantFrom("Name", "Addr", "Status", "Tags"), value)
  .map(([m, k, v]) => ({ ...m, [k]: v }));
/** Headers that claim what is not there: huge lengths, deep nesting, a type byte that does not exist. */
const hostile = fc.oneof(
  fc
    .tuple(fc.constantFrom(0x91, 0x81, 0xdc, 0xdd, 0xde, 0xdf), fc.integer({ min: 1, max: 200 }))
    .map(([h, n]) =>
      concat(
        ...Array.from({ length: n }, () =>
          h === 0x91 || h === 0x81
            ? new Uint8Array([h, ...(h === 0x81 ? [0xa0] : [])])
            : new Uint8Array([h, 0xff, 0xff, 0xff, 0xff].slice(0, h === 0xdc || h === 0xde ? 3 : 5)),
        ),
      ),
    ),
  fc
    .tuple(
      fc.constantFrom(0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
    )
    .map(([h, len]) => concat(new Uint8Array([h]), len, new Uint8Array(32).fill(0x61))),
  fc.constant(new Uint8Array([0xc1])),
  // Many objects in one answer: an array16 of empty maps.
  fc
    .integer({ min: 1, max: 65_535 })
    .map((n) => concat(new Uint8Array([0xdc, n >> 8, n & 0xff]), new Uint8Array(n).fill(0x80))),
);
const body = fc.oneof(
  { weight: 3, arbitrary: fc.array(goodMember, { maxLength: 8 }).map((Members) => encode({ Members })) },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(goodMember, oddMember), { maxLength: 4 }).map((Members) => encode({ Members })),
  },
  { weight: 2, arbitrary: value.map((v) => encode(v)) },
  { weight: 2, arbitrary: hostile },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);
const header = (seq: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(ok(seq)) },
    {
      weight: 1,
      arbitrary: fc
        .record({ Seq: fc.oneof(fc.constant(seq), fc.integer()), Error: fc.string({ maxLength: 8 }) })
        .map((h) => encode(h)),
    },
    { weight: 1, arbitrary: value.map((v) => encode(v)) },
  );
const event = fc.oneof(
  fc.constantFrom(...MEMBER_EVENTS, "ready", "user", "").map((e) => encode({ Event: e, Members: [] })),
  body,
);
/** How the script's bytes go out: whole, in pieces, or dripped (pieces with a pause before each). */
const delivery = fc.oneof(
  { weight: 6, arbitrary: fc.record({ size: fc.integer({ min: 1, max: 4096 }), delayMs: fc.constant(0) }) },
  {
    weight: 1,
    arbitrary: fc.record({ size: fc.integer({ min: 1, max: 8 }), delayMs: fc.integer({ min: 5, max: 30 }) }),
  },
);
const scriptOf = (parts: Uint8Array[], d: { size: number; delayMs: number }, end: boolean): Script => {
  const all = pieces(concat(...parts), d.size);
  // A drip is a handful of pieces: the deadline is what is under test, not the agent's patience.
  return { chunks: d.delayMs > 0 ? all.slice(0, 12) : all, delayMs: d.delayMs, end };
};
const membersCall = fc
  .tuple(header(0), header(1), body, delivery, fc.boolean())
  .map(([h0, h1, b, d, end]) => ({ kind: "members" as const, script: scriptOf([h0, h1, b], d, end) }));
const streamCall = fc
  .tuple(header(0), header(1), fc.array(fc.tuple(header(1), event), { maxLength: 5 }), delivery, fc.boolean())
  .map(([h0, h1, events, d, end]) => ({
    kind: "stream" as const,
    script: scriptOf([h0, h1, ...events.flatMap(([h, e]) => [h, e])], d, end),
  }));

function typed(err: unknown): void {
  expect(TYPED.some((T) => err instanceof T)).toBe(true);
}

async function call(c: { kind: "members" | "stream"; script: Script }): Promise<void> {
  const agent = await scriptedAgent(c.script);
  const client = new SerfRpcClient("127.0.0.1", agent.port, { timeoutMs: TIMEOUT_MS, livenessMs: 60_000 });
  const started = Date.now();
  if (c.kind === "members") {
    const r = await client.members().then(
      (members) => ({ members, err: null }),
      (err: unknown) => ({ members: null, err }),
    );
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    if (r.err !== null) typed(r.err);
    for (const m of r.members ?? []) {
      expect([typeof m.name, typeof m.address, typeof m.status]).toEqual(["string", "string", "string"]);
      expect(Object.values(m.tags).every((t) => typeof t === "string")).toBe(true);
    }
  } else {
    const abort = new AbortController();
    const seen: string[] = [];
    // Long enough for the script to arrive (a drip is ~12 pieces of up to 30 ms), then stop it.
    const abortAfterMs = c.script.delayMs * (c.script.chunks.length + 1) + 30;
    const timer = setTimeout(() => abort.abort(), abortAfterMs);
    const err = await client
      .stream((e) => seen.push(e), abort.signal)
      .then(
        () => null,
        (e: unknown) => e,
      );
    clearTimeout(timer);
    expect(Date.now() - started).toBeLessThan(abortAfterMs + SLACK_MS);
    typed(err);
    expect(seen.every((e) => e === "member-event" || (MEMBER_EVENTS as readonly string[]).includes(e))).toBe(true);
  }
  // The client closes its socket, whatever happened.
  expect(await eventually(() => agent.open() === 0, 10_000)).toBe(true);
  await agent.close();
}

describe("the Serf RPC client (property)", () => {
  it("resolves with well-formed members or rejects with a typed error, in time, socket closed, memory bounded", async () => {
    const base = process.memoryUsage();
    let peak = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers));
    }, 5);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.oneof(membersCall, streamCall), { minLength: 1, maxLength: 24 }),
          async (calls) => {
            await Promise.all(calls.map(call));
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      clearInterval(sampler);
    }
    // Nothing an agent sends makes the client hold much: the review's 2 MB took it to 417 MB.
    expect(peak).toBeLessThan(128 << 20);
  }, 60_000);
});

describe("MsgpackFramer (property)", () => {
  it("gives back the objects of any msgpack stream, however it is cut", () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }),
        (values, cuts) => {
          const bytes = concat(...values.map((v) => encode(v)));
          const framer = new MsgpackFramer(SERF_LIMITS);
          const out: unknown[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length]!;
            const { frames, error } = framer.push(bytes.subarray(at, at + size));
            expect(error).toBeNull();
            out.push(...frames.map((f) => decode(f)));
            at += size;
          }
          expect(out).toEqual(values.map((v) => decode(encode(v))));
          expect(framer.pending).toBe(0);
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it("never holds more than one frame's worth, whatever the bytes", () => {
    const limits = { ...SERF_LIMITS, maxFrameBytes: 4096 };
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 512 }), { maxLength: 20 }), (chunks) => {
        const framer = new MsgpackFramer(limits);
        for (const c of chunks) {
          const { error } = framer.push(c);
          if (error !== null) break;
          expect(framer.pending).toBeLessThanOrEqual(limits.maxFrameBytes + 8);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});
