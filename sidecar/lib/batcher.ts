import { toError } from "./errors";

/**
 * Runs `work` on the items asked for, one run at a time: items asked for while a run is under
 * way go together into the next run. So a burst of requests (a hundred containers stopped at
 * once, each asking for its server to be drained) costs two runs, not a hundred at the same
 * moment. Each caller's promise settles with the run that carried its items.
 */
export class Batcher<T> {
  private pending: { items: T[]; waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> } | null =
    null;
  private busy = false;

  constructor(private readonly work: (items: readonly T[]) => Promise<void>) {}

  run(items: readonly T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending ??= { items: [], waiters: [] };
      this.pending.items.push(...items);
      this.pending.waiters.push({ resolve, reject });
      if (!this.busy) this.next();
    });
  }

  private next(): void {
    const batch = this.pending;
    this.pending = null;
    if (batch === null) {
      this.busy = false;
      return;
    }
    this.busy = true;
    let done: Promise<void>;
    try {
      done = this.work(batch.items);
    } catch (err) {
      done = Promise.reject(toError(err));
    }
    done.then(
      () => {
        for (const w of batch.waiters) w.resolve();
        this.next();
      },
      (err: unknown) => {
        for (const w of batch.waiters) w.reject(err);
        this.next();
      },
    );
  }
}
