import type { Logger } from "pino";
import { toError } from "../lib/errors";
import { sha256Hex, type Rendered } from "../render/render";
import type { ConfigStore } from "./config-file";
import type { Validator } from "./haproxy-check";

/** `haproxy -c` refused a render: the live file was left as it was. */
export interface Rejection {
  readonly kind: "rejected";
  readonly sha: string;
  readonly message: string;
}

/** Raised for a write worth retrying (I/O, a checker that could not run). */
export class WriteError extends Error {
  override readonly name = "WriteError";
}

/**
 * The live haproxy.cfg on the shared volume. Every write is staged beside it, validated with
 * `haproxy -c` and renamed over it, one at a time. A write can also be asked for in the
 * background (the runtime path: HAProxy already runs the change, the file follows): the latest
 * request wins, and a rejection is reported to `onRejected`.
 */
export class LiveFile {
  private live: { sha: string | null; text: string | null } | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Rendered | null = null;
  private background: Promise<void> | null = null;
  private readonly rejections = new Map<string, string>();

  constructor(
    private readonly store: ConfigStore,
    private readonly validator: Validator,
    private readonly log: Logger,
    private readonly onRejected: (sha: string, message: string) => void = () => undefined,
  ) {}

  /** The live file's sha256 and text (read from disk the first time), null when there is none. */
  async current(): Promise<{ sha: string | null; text: string | null }> {
    if (this.live === null) {
      const stale = await this.store.removeStale();
      if (stale > 0)
        this.log.info({ files: stale }, "removed config files an earlier run had staged and not committed");
      const text = await this.store.read();
      this.live = { sha: text === null ? null : sha256Hex(text), text };
    }
    return this.live;
  }

  /** Whether `haproxy -c` accepts `text` (staged beside the live file, then removed). */
  async check(text: string): Promise<boolean> {
    const staged = await this.store.stage(text);
    try {
      return (await this.validator.validate(staged)).ok;
    } finally {
      await this.store.discard(staged);
    }
  }

  /** HAProxy's refusal of this render, if it was refused. */
  rejection(sha: string): string | null {
    return this.rejections.get(sha) ?? null;
  }

  /**
   * Writes `rendered` now (after any write in progress): "unchanged" when the file already says
   * this, "written", or the rejection. `beforeCommit` runs once the text is known to be valid,
   * before it replaces the live file (a reload drains and saves state there).
   */
  write(
    rendered: Rendered,
    beforeCommit: () => Promise<void> = () => Promise.resolve(),
  ): Promise<"unchanged" | "written" | Rejection> {
    const run = this.queue.then(() => this.writeNow(rendered, beforeCommit));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Asks for `rendered` to become the live file, in the background; the latest request wins. */
  writeInBackground(rendered: Rendered): void {
    this.pending = rendered;
    this.background ??= this.drainPending().finally(() => {
      this.background = null;
    });
  }

  /** Resolves once no write is in progress or pending. */
  async idle(): Promise<void> {
    while (this.background !== null) await this.background;
    await this.queue;
  }

  private async drainPending(): Promise<void> {
    while (this.pending !== null) {
      const next = this.pending;
      this.pending = null;
      try {
        const result = await this.write(next);
        if (typeof result !== "string") this.onRejected(result.sha, result.message);
      } catch (err) {
        // Not written (a full volume, a checker that could not run): the next pass asks again.
        this.log.warn({ err: toError(err) }, "config file not written, will retry");
      }
    }
  }

  private async writeNow(
    rendered: Rendered,
    beforeCommit: () => Promise<void>,
  ): Promise<"unchanged" | "written" | Rejection> {
    const live = await this.current();
    if (live.sha === rendered.sha256) return "unchanged";
    const known = this.rejections.get(rendered.sha256);
    if (known !== undefined) return { kind: "rejected", sha: rendered.sha256, message: known };
    const staged = await this.store.stage(rendered.text);
    let verdict;
    try {
      verdict = await this.validator.validate(staged);
    } catch (err) {
      await this.store.discard(staged);
      throw new WriteError(`could not run the config check: ${toError(err).message}`, { cause: err });
    }
    if (!verdict.ok) {
      await this.store.discard(staged);
      // Bounded: only the last few refusals are remembered.
      if (this.rejections.size >= 16) this.rejections.delete(this.rejections.keys().next().value!);
      this.rejections.set(rendered.sha256, verdict.message);
      return { kind: "rejected", sha: rendered.sha256, message: verdict.message };
    }
    try {
      await beforeCommit();
      await this.store.commit(staged);
    } catch (err) {
      await this.store.discard(staged).catch(() => undefined);
      throw err;
    }
    this.live = { sha: rendered.sha256, text: rendered.text };
    return "written";
  }
}
