/** A Docker event reduced to what the sidecar cares about. */
export interface ContainerEvent {
  readonly containerId: string;
  /** Docker's action: start, kill, die, stop, pause, unpause, health_status: healthy, connect, ... */
  readonly action: string;
  /** For `kill`: the signal number or name Docker reports. */
  readonly signal?: string;
  /** For container events: Docker's attributes, which include the container's labels. */
  readonly attributes?: Readonly<Record<string, string>>;
}

// Signals that end a container. `docker stop` sends the image's stop signal (TERM by default),
// then KILL; compose and `docker kill` default to KILL.
const TERMINATING = new Set(["15", "9", "2", "3", "SIGTERM", "SIGKILL", "SIGINT", "SIGQUIT", "TERM", "KILL", "INT", "QUIT"]);

/**
 * Pure: folds one event into the set of containers that are shutting down but still listed as
 * running. Docker emits `kill` (with the signal) before `die` and `stop`, so routing stops at
 * `kill` instead of after the process is gone.
 */
export function foldDrainEvent(draining: ReadonlySet<string>, ev: ContainerEvent): ReadonlySet<string> {
  const next = new Set(draining);
  switch (ev.action) {
    case "kill":
      if (ev.signal === undefined || TERMINATING.has(ev.signal.toUpperCase())) next.add(ev.containerId);
      break;
    case "stop":
      next.add(ev.containerId);
      break;
    case "start":
    case "restart":
    case "destroy":
      next.delete(ev.containerId);
      break;
    default:
      return draining;
  }
  return next;
}

/** Forgets containers that are no longer running: their exclusion is now visible in the listing. */
export function pruneDraining(draining: ReadonlySet<string>, runningIds: ReadonlySet<string>): ReadonlySet<string> {
  let changed = false;
  const next = new Set<string>();
  for (const id of draining) {
    if (runningIds.has(id)) next.add(id);
    else changed = true;
  }
  return changed ? next : draining;
}

/** Containers created with our label and not started yet, with the time their create was seen. */
export type PendingStarts = ReadonlyMap<string, number>;

/**
 * Pure: folds one event into the pending starts. `docker-compose up --scale` creates every new
 * replica within a fraction of a second, then starts them over several seconds; while starts are
 * pending, the burst is not over.
 */
export function foldPendingStart(pending: PendingStarts, ev: ContainerEvent, nowMs: number, labelPrefix: string): PendingStarts {
  if (ev.action === "create") {
    if (ev.attributes?.[`${labelPrefix}.enable`] !== "true") return pending;
    return new Map(pending).set(ev.containerId, nowMs);
  }
  if ((ev.action === "start" || ev.action === "destroy" || ev.action === "die") && pending.has(ev.containerId)) {
    const next = new Map(pending);
    next.delete(ev.containerId);
    return next;
  }
  return pending;
}

/** Whether a start is still expected; a create older than `ttlMs` (never started) no longer counts. */
export function hasPendingStarts(pending: PendingStarts, nowMs: number, ttlMs: number): boolean {
  for (const seen of pending.values()) if (nowMs - seen < ttlMs) return true;
  return false;
}
