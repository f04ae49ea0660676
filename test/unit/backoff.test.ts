import { Backoff } from "../../sidecar/lib/backoff";

describe("Backoff", () => {
  it("doubles from the base up to the cap, never giving up, and resets", () => {
    const b = new Backoff(250, 2000);
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([250, 500, 1000, 2000, 2000, 2000, 2000]);
    expect(b.failures).toBe(7);
    b.reset();
    expect(b.next()).toBe(250);
  });

  it("does not overflow after very many failures", () => {
    const b = new Backoff(250, 30_000);
    for (let i = 0; i < 10_000; i++) b.next();
    expect(b.next()).toBe(30_000);
  });
});
