import type { BackendSnapshot, ChangeHint } from "../model/types";

/** What a source's watcher tells its listener. */
export type SourceSignal =
  | { readonly kind: "connected" }
  | { readonly kind: "disconnected"; readonly err: Error }
  | { readonly kind: "hint"; readonly hint: ChangeHint };

/**
 * Where backends come from: compose containers on one host (Docker), or a Swarm service's tasks.
 * Implementations map their own vocabulary to neutral snapshots and hints at this boundary.
 */
export interface BackendSource {
  /**
   * A full listing of labelled candidates: the truth each pass works from. With `ids` (only
   * when `listById` is true): the candidates among those ids, a listing narrowed to them.
   */
  list(signal?: AbortSignal, ids?: readonly string[]): Promise<BackendSnapshot[]>;
  /** Whether `list` can narrow to ids (then a change costs a listing of the changed ones). */
  readonly listById?: boolean;
  /**
   * Follows changes until `signal` aborts, reconnecting with backoff forever. Hints only
   * trigger; listeners must resync on every `connected`.
   */
  watch(listener: (s: SourceSignal) => void, signal: AbortSignal): void;
}
