/** A pending timer, as returned by {@link Clock.setTimeout}. */
export type TimerHandle = ReturnType<typeof setTimeout>;

/**
 * Time as the control loop sees it: injected, so that tests drive it with fake timers and the
 * loop never reads the wall clock behind their back.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The process's clock. Reads the globals at call time, so jest's fake timers apply to it too. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
