import { systemClock } from "../../sidecar/lib/clock";
import { CoalescingTrigger, type TriggerOptions } from "../../sidecar/reconcile/trigger";

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A trigger around a recording run that does nothing. */
function trigger(opts: TriggerOptions): { run: jest.Mock<Promise<undefined>, []>; t: CoalescingTrigger } {
  const run = jest.fn(async () => undefined);
  return { run, t: new CoalescingTrigger(run, opts, systemClock) };
}

describe("CoalescingTrigger", () => {
  it("turns a burst into one run after the quiet time", async () => {
    const { run, t } = trigger({ quietMs: 100, maxWaitMs: 1000 });
    for (let i = 0; i < 10; i++) {
      t.poke();
      await jest.advanceTimersByTimeAsync(50);
    }
    expect(run).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(100);
    expect(run).toHaveBeenCalledTimes(1);
    t.stop();
  });

  it("runs at the maximum wait when the burst never goes quiet", async () => {
    const { run, t } = trigger({ quietMs: 100, maxWaitMs: 300 });
    for (let i = 0; i < 12; i++) {
      t.poke();
      await jest.advanceTimersByTimeAsync(50);
    }
    // Pokes every 50 ms from 0 to 550 ms: max-wait runs at 300 and 600 ms, and the one at
    // 600 ms covers the last poke, so the quiet timer adds nothing.
    expect(run).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(1000);
    expect(run).toHaveBeenCalledTimes(2);
    t.poke();
    await jest.advanceTimersByTimeAsync(100);
    expect(run).toHaveBeenCalledTimes(3);
    t.stop();
  });

  it("keeps one run in flight and queues exactly one more", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const run = jest.fn(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 500));
      inFlight--;
    });
    const t = new CoalescingTrigger(run, { quietMs: 10, maxWaitMs: 20 }, systemClock);
    t.poke();
    await jest.advanceTimersByTimeAsync(20); // first run starts
    for (let i = 0; i < 5; i++) {
      t.poke();
      await jest.advanceTimersByTimeAsync(20);
    }
    await jest.advanceTimersByTimeAsync(2000);
    expect(maxInFlight).toBe(1);
    expect(run).toHaveBeenCalledTimes(2);
    t.stop();
  });

  it("does nothing after stop", async () => {
    const { run, t } = trigger({ quietMs: 10, maxWaitMs: 100 });
    t.poke();
    t.stop();
    t.poke();
    await jest.advanceTimersByTimeAsync(500);
    expect(run).not.toHaveBeenCalled();
  });
});

describe("CoalescingTrigger with a hold", () => {
  it("fires only at the maximum wait while held, and at quiet once the hold ends", async () => {
    let held = true;
    const { run, t } = trigger({ quietMs: 100, maxWaitMs: 1000, hold: () => held });
    t.poke();
    await jest.advanceTimersByTimeAsync(500);
    expect(run).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(500);
    expect(run).toHaveBeenCalledTimes(1);
    t.poke();
    await jest.advanceTimersByTimeAsync(300);
    held = false;
    t.poke();
    await jest.advanceTimersByTimeAsync(100);
    expect(run).toHaveBeenCalledTimes(2);
    t.stop();
  });
});

describe("CoalescingTrigger urgent pokes", () => {
  it("runs within the urgent delay, ignoring the quiet time and any hold, once for a group", async () => {
    const { run, t } = trigger({ quietMs: 200, maxWaitMs: 4000, hold: () => true });
    t.pokeUrgent(30);
    await jest.advanceTimersByTimeAsync(10);
    t.pokeUrgent(30);
    await jest.advanceTimersByTimeAsync(20);
    expect(run).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(5000);
    expect(run).toHaveBeenCalledTimes(1);
    t.stop();
  });

  it("brings the run forward for a more urgent poke, never back", async () => {
    const { run, t } = trigger({ quietMs: 100, maxWaitMs: 4000, hold: () => true });
    t.pokeUrgent(100); // a stop drained early: after the quiet time
    await jest.advanceTimersByTimeAsync(60);
    t.pokeUrgent(0); // a start: now
    await jest.advanceTimersByTimeAsync(0);
    expect(run).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(5000);
    expect(run).toHaveBeenCalledTimes(1);
    t.stop();
  });
});
