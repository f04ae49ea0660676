/**
 * Property: whatever the request target, query string or Host, the real status server answers
 * with a status it means (never a 500, never a closed connection), refuses what it must, and
 * still answers /healthz after every batch. Requests are raw bytes on 127.0.0.1, so that broken
 * and absolute-form targets reach the handler as Node's parser passes them.
 */
import fc from "fast-check";
import { checkHost } from "../../sidecar/status/request-target";
import { getRaw, startFixture, type RawAnswer, type StatusFixture } from "./status-fixture";

let f: StatusFixture;
beforeAll(async () => {
  f = await startFixture(["sidecar-status"]);
});
afterAll(() => f.close());

/** Characters that matter to a target's grammar, and some that have no business in one (no CR/LF). */
const TARGET_CHARS = [..."/?#%[]@:.-_~=&+!$'()*,;\"<>\\^`{|} aZ09", "\t", "\x00", "\x7f", "\x80", "\xe9", "\xff"];
const targetChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TARGET_CHARS) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 1 }) },
);
const noise = (maxLength: number) => fc.string({ unit: targetChar, maxLength });
const PREFIXES = [
  "",
  "/",
  "//",
  "/changes?",
  "/timeline.svg?",
  "/status",
  "/healthz",
  "http://",
  "HTTP://",
  "https://",
  "ftp://",
  "http://[",
  "http://127.0.0.1:",
  "http://localhost/",
  "*",
];
const queryValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^[0-9]{1,30}$/),
  fc.stringMatching(/^(%[0-9A-Fa-f]{0,2}|[a-z_.-]){0,12}$/),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom("", "-1", "0", "1440", "1441", "1e3", "0x10", "NaN", "Infinity", "%", "%zz", "%ff%fe", "+"),
);
const query = fc
  .array(fc.tuple(fc.constantFrom("container", "since", "minutes", "x", "", "container[]"), queryValue), {
    maxLength: 4,
  })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%25/g, "%")}`).join("&"));
const target = fc.oneof(
  fc.tuple(fc.constantFrom(...PREFIXES), noise(40)).map(([p, n]) => p + n),
  fc.tuple(fc.constantFrom("/changes", "/timeline.svg", "/status"), query).map(([p, q]) => `${p}?${q}`),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.webPath(),
  noise(200),
);

// What a request that the server understood, or refused on purpose, is answered with.
const MEANT = new Set([200, 400, 404, 421, 431]);

function meant(res: RawAnswer): void {
  expect(res.status).not.toBeNull();
  expect(MEANT).toContain(res.status);
  if (res.status !== 200) expect(typeof (JSON.parse(res.body) as { error: unknown }).error).toBe("string");
}

async function stillServes(): Promise<void> {
  expect((await getRaw(f.port, "/healthz")).status).toBe(200);
  const open = await new Promise<number>((resolve, reject) =>
    f.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );
  // Every batch's connection is closed (ours, after the answer): none is left behind.
  expect(open).toBeLessThanOrEqual(1);
}

describe("the status server (property)", () => {
  it("answers any request target with a status it means, and keeps serving", async () => {
    const before = f.logged.lines.filter((l) => l["msg"] === "status request failed").length;
    await fc.assert(
      fc.asyncProperty(fc.array(target, { minLength: 1, maxLength: 20 }), async (targets) => {
        const answers = await Promise.all(targets.map((t) => getRaw(f.port, t)));
        answers.forEach(meant);
        await stillServes();
      }),
      { numRuns: 250 },
    );
    expect(f.logged.lines.filter((l) => l["msg"] === "status request failed").length).toBe(before);
  });

  it("serves a Host exactly when it is an IP literal, localhost or an allowed name", async () => {
    const allowed = new Set(["sidecar-status"]);
    const port = fc.option(fc.integer({ min: 0, max: 70_000 }), { nil: undefined });
    const name = fc.oneof(
      fc.ipV4(),
      fc.ipV6().map((a) => `[${a}]`),
      fc.domain(),
      fc.mixedCase(fc.constantFrom("localhost", "sidecar-status", "localhost.evil.example", "sidecar-status.evil")),
      fc.string({ unit: fc.constantFrom(..."a0.-_[]:@%"), maxLength: 20 }),
      fc.ipV4Extended(),
    );
    const host = fc.tuple(name, port).map(([n, p]) => (p === undefined ? n : `${n}:${p}`));
    await fc.assert(
      fc.asyncProperty(fc.array(host, { minLength: 1, maxLength: 20 }), async (hosts) => {
        const answers = await Promise.all(hosts.map((h) => getRaw(f.port, "/status", h)));
        answers.forEach((res, i) => {
          const verdict = checkHost(hosts[i], allowed);
          expect(res.status).toBe(verdict.ok ? 200 : verdict.status);
          if (!verdict.ok) expect(res.body).not.toContain("eventsConnected");
        });
        await stillServes();
      }),
      { numRuns: 100 },
    );
  });

  it("lets no DNS name through but localhost and the allowed ones (the check itself, many more inputs)", () => {
    const allowed = new Set(["sidecar-status"]);
    fc.assert(
      fc.property(fc.domain(), fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }), (d, p) => {
        const verdict = checkHost(p === null ? d : `${d}:${p}`, allowed);
        const lower = d.toLowerCase();
        expect(verdict.ok).toBe(lower === "localhost" || allowed.has(lower));
        if (!verdict.ok) expect(verdict.status).toBe(421);
      }),
      { numRuns: 5_000 },
    );
  });
});
