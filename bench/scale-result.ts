import type { Percentiles } from "./lib";

/** One single start at N, its times counted from the fake engine's start event. */
export interface SingleStart {
  /** Until HAProxy's read-back confirmed its server (the change log's `confirmedAt`). */
  readonly ms: number;
  /** Until the sidecar heard of it (the change log's `triggeredAt`). */
  readonly heardMs: number;
  /** Until the pass that confirmed it began (null: another pass ran since, its stages unknown). */
  readonly passStartMs: number | null;
  /** That pass's stages, in ms (from /status). */
  readonly stagesMs: Readonly<Record<string, number>> | null;
}

/** What bench-scale measured at one fleet size N (bench/scale.ts), as its chart reads it. */
export interface ScaleResult {
  readonly n: number;
  readonly fleetUpMs: number;
  readonly single: Percentiles;
  /** Each single start of `single`, in order (absent from results before 2026-12-03, late evening). */
  readonly singleStarts?: readonly SingleStart[];
  /** Single starts each once the stop before it is applied (a change alone), measured after `single`. */
  readonly singleAlone?: Percentiles;
  readonly singleAloneStarts?: readonly SingleStart[];
  /** Medians of where the pass that confirmed each single start spent its time, in ms (from /status). */
  readonly singleStagesMs?: Readonly<Record<string, number | null>>;
  readonly burst: Percentiles & { readonly size: number };
  readonly dockerCallsPerStart: number;
  readonly dockerBytesPerStart: number;
  /** Per start, by Docker API call: requests (bytes). */
  readonly dockerPerStartByCall?: Readonly<Record<string, string>>;
  readonly haproxyCommandsPerChange: number;
  readonly reloads: number;
  readonly resyncPassMs: Percentiles;
  readonly sidecarRssMiB: number;
  readonly sidecarPeakRssMiB: number;
  readonly sidecarCpuPercent: number;
  readonly haproxyWorkerRssMiB: number;
  readonly haproxyKiBPerServer: number | null;
  readonly statusMs: Percentiles;
  readonly metricsMs: Percentiles;
  readonly pageMs: Percentiles;
  readonly failures: readonly string[];
}
