import pDebounce from "p-debounce";
import type { Clock, TimerHandle } from "../lib/clock";

export interface TriggerOptions {
  /** Run once no poke has come for this long. */
  readonly quietMs: number;
  /** …but at the latest this long after the first poke of a burst. */
  readonly maxWaitMs: number;
  /** While this says true, the quiet timer does not fire (more of the burst is known to come). */
  readonly hold?: () => boolean;
}

/**
 * Coalesces pokes into runs of `run`: a burst of pokes becomes one run after `quietMs` of
 * silence, or after `maxWaitMs` if the burst never goes quiet. At most one run is in flight;
 * fires during a run queue exactly one more (p-debounce's `promise` with `after`). While `hold`
 * is true, only the maximum wait fires: the poke that ends the hold restarts the quiet timer.
 */
export class CoalescingTrigger {
  private readonly serial: () => Promise<void>;
  private quietTimer: TimerHandle | null = null;
  private maxTimer: TimerHandle | null = null;
  /** The earliest urgent run asked for since the last run: its timer and when it fires. */
  private urgent: { readonly timer: TimerHandle; readonly at: number } | null = null;
  private stopped = false;

  constructor(
    run: () => Promise<void>,
    private readonly opts: TriggerOptions,
    private readonly clock: Clock,
  ) {
    this.serial = pDebounce.promise(run, { after: true });
  }

  /** Asks for a run soon. Never throws; `run` handles its own errors. */
  poke(): void {
    if (this.stopped) return;
    this.maxTimer ??= this.clock.setTimeout(() => void this.fire(), this.opts.maxWaitMs);
    if (this.quietTimer !== null) this.clock.clearTimeout(this.quietTimer);
    this.quietTimer = this.clock.setTimeout(() => {
      this.quietTimer = null;
      if (!this.opts.hold?.()) void this.fire();
    }, this.opts.quietMs);
  }

  /**
   * Asks for a run within `delayMs`, whatever the quiet time and any hold: for a backend that is
   * going away, routing must stop now. The short delay still gathers the kills of one
   * scale-down. The earliest of the urgent pokes since the last run sets the time.
   */
  pokeUrgent(delayMs: number): void {
    if (this.stopped) return;
    this.poke();
    const at = this.clock.now() + delayMs;
    if (this.urgent !== null) {
      if (this.urgent.at <= at) return;
      this.clock.clearTimeout(this.urgent.timer);
    }
    this.urgent = { timer: this.clock.setTimeout(() => void this.fire(), delayMs), at };
  }

  /** Runs now (after any run in flight), cancelling the pending timers. */
  fire(): Promise<void> {
    this.clearTimers();
    return this.stopped ? Promise.resolve() : this.serial();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  private clearTimers(): void {
    for (const t of [this.quietTimer, this.maxTimer, this.urgent?.timer ?? null])
      if (t !== null) this.clock.clearTimeout(t);
    this.quietTimer = this.maxTimer = this.urgent = null;
  }
}
