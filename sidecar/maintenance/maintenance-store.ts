import type { Logger } from "pino";
import type { ConfigStore } from "../apply/config-file";
import type { Clock } from "../lib/clock";
import { toError } from "../lib/errors";
import {
  applyMaintenance,
  parseMaintenanceFile,
  type MaintenanceEntry,
  type MaintenanceRequest,
} from "../model/maintenance";

/** What one request did: whether it changed anything, and the entry it concerns now (null: not in maintenance). */
export interface MaintenanceResult {
  readonly changed: boolean;
  readonly entry: MaintenanceEntry | null;
}

/**
 * The containers an operator put in maintenance, kept in a file on the sidecar's volume (written
 * atomically: temp file, fsync, rename) so that a restart keeps them; null file: in memory only.
 * A request counts once it is written: a failed write changes nothing and is the caller's error.
 * Requests are applied one at a time, in the order they came.
 */
export class MaintenanceStore {
  private entries: MaintenanceEntry[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: ConfigStore | null,
    private readonly clock: Pick<Clock, "now">,
    private readonly log: Logger,
  ) {}

  /** Reads the file back (a missing file is none in maintenance; a bad one is said, and its good entries kept). */
  async load(): Promise<void> {
    if (this.file === null) return;
    try {
      await this.file.removeStale();
      const text = await this.file.read();
      if (text === null) return;
      const { entries, notes } = parseMaintenanceFile(text);
      if (notes.length > 0) this.log.warn({ problems: notes.slice(0, 5) }, "maintenance file read back in part");
      this.entries = entries;
      if (entries.length > 0)
        this.log.info({ containers: entries.map((e) => e.container) }, "containers in maintenance read back");
    } catch (err) {
      this.log.warn({ err: toError(err) }, "maintenance file not read, none in maintenance");
    }
  }

  /** The containers in maintenance, sorted. */
  list(): readonly MaintenanceEntry[] {
    return this.entries;
  }

  /** Their names, as the desired state matches them. */
  names(): ReadonlySet<string> {
    return new Set(this.entries.map((e) => e.container));
  }

  /** Applies a request once the earlier ones are done; written before it counts. */
  set(req: MaintenanceRequest): Promise<MaintenanceResult> {
    const run = this.queue.then(() => this.apply(req));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(req: MaintenanceRequest): Promise<MaintenanceResult> {
    const { entries, changed } = applyMaintenance(this.entries, req, this.clock.now());
    if (changed && this.file !== null) {
      const staged = await this.file.stage(`${JSON.stringify(entries, null, 2)}\n`);
      try {
        await this.file.commit(staged);
      } catch (err) {
        await this.file.discard(staged).catch(() => undefined);
        throw err;
      }
    }
    this.entries = entries;
    if (changed) this.log.info({ container: req.container, on: req.on, by: req.by }, "maintenance changed");
    return { changed, entry: entries.find((e) => e.container === req.container) ?? null };
  }
}
