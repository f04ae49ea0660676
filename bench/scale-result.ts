import type { Percentiles } from "./lib";

/** What bench-scale measured at one fleet size N (bench/scale.ts), as its chart reads it. */
export interface ScaleResult {
  readonly n: number;
  readonly fleetUpMs: number;
  readonly single: Percentiles;
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
