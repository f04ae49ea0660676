import type { LoopView } from "../reconcile/types";

export interface Health {
  readonly ok: boolean;
  /** Why not, one sentence each (empty when ok). */
  readonly reasons: readonly string[];
}

/**
 * Pure: whether the sidecar is doing its job: its event stream is connected, a pass ran recently
 * (within `staleAfterMs`: about two resync periods), and the last one left HAProxy running the
 * config the sidecar wants. The README's troubleshooting section explains each reason.
 */
export function health(view: LoopView, nowMs: number, staleAfterMs: number): Health {
  const reasons: string[] = [];
  if (!view.eventsConnected) reasons.push("docker event stream disconnected");
  const last = view.last;
  if (last === null) {
    reasons.push("no reconcile pass yet");
    return { ok: false, reasons };
  }
  const ageS = Math.round((nowMs - last.at) / 1000);
  if (nowMs - last.at > staleAfterMs)
    reasons.push(`last reconcile pass ${ageS} s ago (more than ${Math.round(staleAfterMs / 1000)} s)`);
  if (!last.ok) {
    reasons.push(
      last.stage === "template"
        ? `template error: ${last.error.message}`
        : `last reconcile pass failed (${last.stage}): ${last.error.message}`,
    );
  } else if (last.outcome.kind === "rejected") {
    reasons.push(`haproxy rejected the config, the last good one is still served: ${last.outcome.message}`);
  } else if (last.outcome.kind === "no-haproxy") {
    reasons.push("no haproxy of this stack runs: the config is written, nothing serves it");
  }
  return { ok: reasons.length === 0, reasons };
}
