/**
 * Properties of the Docker API proxy's policy over thousands of random requests: nothing off the
 * allowlist is ever allowed, what is relayed is what was checked, and nothing throws.
 */
import fc from "fast-check";
import { decide, MAX_KILL_BODY_BYTES } from "../../sidecar/docker-proxy/policy";
import { onAllowlist, POLICY, requestHeaders, requestLine, sidecarRequests } from "./docker-proxy-arbitraries";

const RUNS = 5_000;

describe("the Docker API proxy's policy, over random requests", () => {
  it("allows the sidecar's own requests (the oracle agrees)", () => {
    for (const [method, url] of sidecarRequests) {
      expect(onAllowlist(method, url)).toBe(true);
      expect(decide({ method, url, headers: {} }, POLICY)).toMatchObject({ allow: true, upstreamPath: url });
    }
  });

  it("never allows anything off the allowlist, and relays exactly what it checked", () => {
    let allowed = 0;
    fc.assert(
      fc.property(requestLine, ({ method, url }) => {
        const d = decide({ method, url, headers: {} }, POLICY);
        if (!d.allow) return;
        allowed++;
        expect(onAllowlist(method, d.upstreamPath)).toBe(true);
        expect(method).toBe(d.route === "reload-haproxy" ? "POST" : "GET");
        // The relayed target is canonical: deciding it again gives the same decision.
        expect(decide({ method, url: d.upstreamPath, headers: {} }, POLICY)).toEqual(d);
      }),
      { numRuns: RUNS },
    );
    // The generators reach the allowlist often enough for the property to say something.
    expect(allowed).toBeGreaterThan(RUNS / 20);
  });

  it("never allows an upgrade, a chunked body, or a body anywhere but a small one on the kill", () => {
    fc.assert(
      fc.property(requestLine, requestHeaders, ({ method, url }, headers) => {
        const d = decide({ method, url, headers }, POLICY);
        if (!d.allow) return;
        expect(headers.upgrade).toBeUndefined();
        expect(headers.connection ?? "").not.toMatch(/upgrade/i);
        expect(headers["transfer-encoding"]).toBeUndefined();
        const length = Number(headers["content-length"] ?? 0);
        expect(length).toBeLessThanOrEqual(d.route === "reload-haproxy" ? MAX_KILL_BODY_BYTES : 0);
      }),
      { numRuns: RUNS },
    );
  });

  it("never throws, and answers 400, 403 or 413 to anything at all", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 64 }),
        fc.string({ unit: "binary", maxLength: 200 }),
        (method, url) => {
          const d = decide({ method, url, headers: {} }, POLICY);
          if (d.allow) expect(onAllowlist(method, d.upstreamPath)).toBe(true);
          else expect([400, 403, 413]).toContain(d.status);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
