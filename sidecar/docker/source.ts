import type { ContainerSnapshot } from "../model/types";
import type { ContainerEvent } from "../model/drain";

/** What the watcher tells its listener. */
export type SourceSignal =
  | { readonly kind: "connected" }
  | { readonly kind: "disconnected"; readonly err: Error }
  | { readonly kind: "event"; readonly event: ContainerEvent };

/**
 * Where backends come from. The container source is the first implementation; a Swarm source
 * (services and tasks) can sit beside it behind the same interface.
 */
export interface BackendSource {
  /** A full listing of candidate containers: the truth each reconcile works from. */
  list(): Promise<ContainerSnapshot[]>;
  /**
   * Follows changes until `signal` aborts, reconnecting with backoff forever. Events are only
   * triggers; listeners must resync on every `connected`.
   */
  watch(listener: (s: SourceSignal) => void, signal: AbortSignal): void;
}
