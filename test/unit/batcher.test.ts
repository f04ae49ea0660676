import { Batcher } from "../../sidecar/lib/batcher";

/** A run that ends when the test says so. */
function gatedWork() {
  const runs: string[][] = [];
  const gates: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const work = (items: readonly string[]) =>
    new Promise<void>((resolve, reject) => {
      runs.push([...items]);
      gates.push({ resolve, reject });
    });
  return { runs, gates, batcher: new Batcher<string>(work) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("Batcher", () => {
  it("runs the first ask at once and everything asked meanwhile together in the next run", async () => {
    const { runs, gates, batcher } = gatedWork();
    const first = batcher.run(["a"]);
    const rest = ["b", "c", "d"].map((x) => batcher.run([x]));
    expect(runs).toEqual([["a"]]);
    gates[0]!.resolve();
    await first;
    await tick();
    expect(runs).toEqual([["a"], ["b", "c", "d"]]);
    gates[1]!.resolve();
    await Promise.all(rest);
    // Idle again: the next ask runs at once.
    const later = batcher.run(["e"]);
    expect(runs).toEqual([["a"], ["b", "c", "d"], ["e"]]);
    gates[2]!.resolve();
    await later;
  });

  it("fails every ask of a failed run, and goes on with the next", async () => {
    const { runs, gates, batcher } = gatedWork();
    const first = batcher.run(["a"]);
    const second = batcher.run(["b"]);
    const third = batcher.run(["c"]);
    gates[0]!.resolve();
    await first;
    await tick();
    gates[1]!.reject(new Error("boom"));
    await expect(second).rejects.toThrow("boom");
    await expect(third).rejects.toThrow("boom");
    expect(batcher.run(["d"])).toBeInstanceOf(Promise);
    expect(runs).toEqual([["a"], ["b", "c"], ["d"]]);
    gates[2]!.resolve();
  });

  it("takes a throw of the work itself as a failed run", async () => {
    const batcher = new Batcher<number>(() => {
      throw new Error("sync");
    });
    await expect(batcher.run([1])).rejects.toThrow("sync");
    await expect(batcher.run([2])).rejects.toThrow("sync");
  });
});
