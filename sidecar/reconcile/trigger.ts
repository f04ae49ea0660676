import pDebounce from "p-debounce";

export interface TriggerOptions {
  /** Run once no poke has come for this long. */
  readonly quietMs: number;
  /** …but at the latest this long after the first poke of a burst. */
  readonly maxWaitMs: number;
  /** While this says true, the quiet timer does not fire (more of the burst is known to come). */
  readonly hold?: () => boolean;
}

/**
 * Coalesces pokes into runs of `run`: a burst of events becomes one run after `quietMs` of
 * silence, or after `maxWaitMs` if the burst never goes quiet. At most one run is in flight;
 * pokes during a run queue exactly one more (p-debounce's `promise` with `after`). While `hold`
 * is true, only the maximum wait fires: the poke that ends the hold restarts the quiet timer.
 */
export class CoalescingTrigger {
  private readonly serial: () => Promise<void>;
  private quiet!: () => Promise<void>;
  private abort!: AbortController;
  private maxTimer: ReturnType<typeof setTimeout> | null = null;
  private urgentTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(run: () => Promise<void>, private readonly opts: TriggerOptions) {
    this.serial = pDebounce.promise(run, { after: true });
    this.arm();
  }

  /** Asks for a run soon. Never throws; `run` handles its own errors. */
  poke(): void {
    if (this.stopped) return;
    this.maxTimer ??= setTimeout(() => void this.fire(), this.opts.maxWaitMs);
    this.quiet().catch(() => undefined); // rejected only when a max-wait fire cancelled it
  }

  /**
   * Asks for a run within `delayMs`, whatever the quiet time: for a container that is going away,
   * routing must stop now. The short delay still gathers the kills of one scale-down.
   */
  pokeUrgent(delayMs: number): void {
    if (this.stopped) return;
    this.poke();
    this.urgentTimer ??= setTimeout(() => void this.fire(), delayMs);
  }

  /** Runs now (after any run in flight), cancelling the pending quiet timer. */
  fire(): Promise<void> {
    if (this.maxTimer !== null) clearTimeout(this.maxTimer);
    this.maxTimer = null;
    if (this.urgentTimer !== null) clearTimeout(this.urgentTimer);
    this.urgentTimer = null;
    this.abort.abort();
    this.arm();
    return this.stopped ? Promise.resolve() : this.serial();
  }

  stop(): void {
    this.stopped = true;
    if (this.maxTimer !== null) clearTimeout(this.maxTimer);
    this.maxTimer = null;
    if (this.urgentTimer !== null) clearTimeout(this.urgentTimer);
    this.urgentTimer = null;
    this.abort.abort();
  }

  private arm(): void {
    this.abort = new AbortController();
    this.quiet = pDebounce(
      () => (this.opts.hold?.() ? Promise.resolve() : this.fire()),
      this.opts.quietMs,
      { signal: this.abort.signal },
    );
  }
}
