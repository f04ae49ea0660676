import { BACKEND_NAME_RE } from "./model/labels";
import { SETTINGS } from "./settings";
import { DNS_NAME_RE } from "./status/request-target";

export { SETTINGS };

/** Validated sidecar settings. Nothing else in the sidecar reads process.env. */
export interface Config {
  /** Where backends come from: this host's containers, or a swarm's tasks. */
  readonly source: "docker" | "swarm";
  readonly network: string;
  readonly labelPrefix: string;
  readonly defaultBackend: string;
  readonly templatePath: string;
  readonly outputPath: string;
  /** The change log's JSON-lines file, or null (in memory only). */
  readonly changesFile: string | null;
  /** Where `sidecar maint` keeps the containers in maintenance; null: in memory only. */
  readonly maintenanceFile: string | null;
  readonly changesMaxBytes: number;
  /** Change records kept in memory. */
  readonly changesKeep: number;
  /** Runtime (stats) socket path; the same path inside `ha` and the sidecar (shared volume). */
  readonly runtimeSocket: string;
  readonly serverStateFile: string;
  /** HAProxy master CLI socket (shared volume), for operators and tests. */
  readonly masterSocket: string;
  readonly quietMs: number;
  readonly maxWaitMs: number;
  readonly resyncMs: number;
  readonly reloadConfirmMs: number;
  /** The replicas are read back and compared with the desired state this often; 0: only after changes. */
  readonly replicaCheckMs: number;
  /** `key=value` label that identifies the HAProxy containers (the replicas) to signal. */
  readonly haproxySelector: { readonly key: string; readonly value: string };
  readonly haproxyBin: string;
  /** Where the Docker Engine API answers (dockerode's options). */
  readonly docker:
    { readonly socketPath: string } | { readonly host: string; readonly port: number; readonly protocol: "http" };
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  readonly statusPort: number;
  /** Where the status server listens besides 127.0.0.1 (an address, or a name resolved at start). */
  readonly statusAddress: string;
  /** Names the status server answers to besides IP literals and `localhost` (lowercase). */
  readonly statusHosts: readonly string[];
  /** Serf RPC auth key, or null. */
  readonly serfRpcAuth: string | null;
  /** Membership changes through HAProxy's runtime API (true), or a reload for every change. */
  readonly runtimeApi: boolean;
  /** How a container without HEALTHCHECK is known to be ready: a TCP connect, or not at all. */
  readonly readiness: "tcp" | "none";
  /** Serf agent RPC address for the health cross-reference, or null (LB_SERF_RPC=none). */
  readonly serfRpc: { readonly host: string; readonly port: number } | null;
  readonly serfGraceMs: number;
  /** Serf never takes out so many that fewer than this share (0–1) of a backend's members stay routed. */
  readonly serfPanicThreshold: number;
  /** 0–1: leaving servers that still run are kept routed rather than leave a backend fewer than this share. */
  readonly drainPanicThreshold: number;
  /** A pass that takes longer is abandoned, as a failure to retry. */
  readonly passTimeoutMs: number;
  /** Every Docker API call answers within this, or fails (to be retried). */
  readonly dockerTimeoutMs: number;
  /** Serf tag `key=value` of members meant to be backends (the others are never drift). */
  readonly serfMemberTag: { readonly key: string; readonly value: string };
  /** `user:password` protecting the HAProxy stats page, or null. */
  readonly statsAuth: string | null;
}

/** Raised at start for settings that cannot work; lists every problem at once. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid settings:\n  - ${problems.join("\n  - ")}`);
  }
}

type SettingName = keyof typeof SETTINGS;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;
const LABEL_PREFIX_RE = /^[a-z0-9]+([.-][a-z0-9]+)*$/;
const NETWORK_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const SELECTOR_RE = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=([^\s=]+)$/;

/** Reads and validates settings from `env`. Pure; throws ConfigError listing all problems. */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const problems: string[] = [];
  const raw = (name: SettingName): string => {
    const v = env[name];
    if (v === undefined || v.trim() === "") return SETTINGS[name].def;
    // A newline or another control character would end up in haproxy.cfg, a path or a log line.
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(v)) {
      problems.push(`${name}=${JSON.stringify(v)}: must not contain control characters (newlines, tabs…)`);
      return SETTINGS[name].def;
    }
    return v.trim();
  };
  const int = (name: SettingName, min: number, max: number): number => {
    const v = raw(name);
    if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max) {
      problems.push(`${name}=${JSON.stringify(v)}: must be a whole number from ${min} to ${max}`);
      return Number(SETTINGS[name].def);
    }
    return Number(v);
  };
  const path = (name: SettingName): string => {
    const v = raw(name);
    if (!v.startsWith("/")) problems.push(`${name}=${JSON.stringify(v)}: must be an absolute path`);
    return v;
  };
  const match = (name: SettingName, re: RegExp, what: string): string => {
    const v = raw(name);
    if (!re.test(v)) problems.push(`${name}=${JSON.stringify(v)}: ${what}`);
    return v;
  };

  const source = match("LB_SOURCE", /^(docker|swarm)$/, "must be docker or swarm") as Config["source"];
  const network = match("LB_NETWORK", NETWORK_RE, "must be a Docker network name");
  const labelPrefix = match("LB_LABEL_PREFIX", LABEL_PREFIX_RE, "must be lowercase, dotted (like heig.lb)");
  const defaultBackend = match("LB_DEFAULT_BACKEND", BACKEND_NAME_RE, "must be a valid HAProxy backend name");
  const templatePath = path("LB_TEMPLATE");
  const outputPath = path("LB_OUTPUT");
  const changesFile = raw("LB_CHANGES_FILE") === "none" ? null : path("LB_CHANGES_FILE");
  const changesMaxBytes = int("LB_CHANGES_MAX_BYTES", 4096, 1 << 30);
  const changesKeep = int("LB_CHANGES_KEEP", 10, 100_000);
  const rawMaintenance = raw("LB_MAINTENANCE_FILE");
  const maintenanceFile =
    rawMaintenance === "none"
      ? null
      : rawMaintenance === "auto"
        ? `${(changesFile ?? outputPath).replace(/\/[^/]*$/, "")}/maintenance.json`
        : path("LB_MAINTENANCE_FILE");
  const runtimeSocket = path("LB_RUNTIME_SOCKET");
  // Printed into haproxy.cfg as the default of "${HA_RUNTIME_SOCKET-<path>}".
  if (/[\s"'$\\{}#]/.test(runtimeSocket))
    problems.push(
      `LB_RUNTIME_SOCKET=${JSON.stringify(runtimeSocket)}: no spaces, quotes, '$', '{', '}', '#' or backslash`,
    );
  const serverStateFile = path("LB_SERVER_STATE_FILE");
  const masterSocket = path("LB_MASTER_SOCKET");
  const quietMs = int("LB_QUIET_MS", 0, 60_000);
  const maxWaitMs = int("LB_MAX_WAIT_MS", 1, 600_000);
  if (maxWaitMs < quietMs)
    problems.push(`LB_MAX_WAIT_MS (${maxWaitMs}) must not be less than LB_QUIET_MS (${quietMs})`);
  const resyncMs = int("LB_RESYNC_MS", 1_000, 86_400_000);
  const reloadConfirmMs = int("LB_RELOAD_CONFIRM_MS", 100, 60_000);
  const replicaCheckMs = int("LB_REPLICA_CHECK_MS", 0, 600_000);
  if (replicaCheckMs > 0 && replicaCheckMs < 100)
    problems.push(`LB_REPLICA_CHECK_MS=${replicaCheckMs}: 0 (off) or from 100`);
  const selector = match("LB_HAPROXY_SELECTOR", SELECTOR_RE, "must be a label selector key=value");
  const sel = SELECTOR_RE.exec(selector);
  const haproxyBin = raw("LB_HAPROXY_BIN");
  const dockerHost = raw("DOCKER_HOST");
  const unix = /^unix:\/\/(\/\S+)$/.exec(dockerHost);
  const tcp = /^tcp:\/\/([A-Za-z0-9][A-Za-z0-9_.-]*):([0-9]{1,5})$/.exec(dockerHost);
  if ((unix === null && tcp === null) || (tcp !== null && (Number(tcp[2]) < 1 || Number(tcp[2]) > 65535))) {
    problems.push(`DOCKER_HOST=${JSON.stringify(dockerHost)}: must be unix:///absolute/path or tcp://host:port`);
  }
  const level = raw("LB_LOG_LEVEL");
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    problems.push(`LB_LOG_LEVEL=${JSON.stringify(level)}: must be one of ${LOG_LEVELS.join(", ")}`);
  }
  const statusPort = int("LB_STATUS_PORT", 1, 65535);
  const statusAddress = match(
    "LB_STATUS_ADDRESS",
    /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/,
    "must be an address or a host name",
  );
  const statusHosts = raw("LB_STATUS_HOSTS")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  for (const h of statusHosts)
    if (h.length > 253 || !DNS_NAME_RE.test(h))
      problems.push(`LB_STATUS_HOSTS: ${JSON.stringify(h)} is not a host name (letters, digits, '-', '_', dots)`);
  const serfRpcAuth = raw("LB_SERF_RPC_AUTH");
  if (serfRpcAuth !== "" && !/^[\x21-\x7e]{8,256}$/.test(serfRpcAuth)) {
    problems.push("LB_SERF_RPC_AUTH: 8-256 printable ASCII characters, no spaces");
  }
  const statsBind = match("LB_STATS_BIND", /^[0-9A-Fa-f.:]+$/, "must be an IP address");
  const readiness = match("LB_READINESS", /^(tcp|none)$/, "must be tcp or none");
  const runtimeApi = match("LB_RUNTIME_API", /^(on|off)$/, "must be on or off") === "on";
  const serfRaw = match("LB_SERF_RPC", /^(none|[A-Za-z0-9][A-Za-z0-9_.-]*:[0-9]{1,5})$/, "must be host:port or none");
  const serfPort = Number(serfRaw.split(":")[1]);
  if (serfRaw !== "none" && (serfPort < 1 || serfPort > 65535))
    problems.push(`LB_SERF_RPC=${JSON.stringify(serfRaw)}: port must be 1-65535`);
  const serfGraceMs = int("LB_SERF_GRACE_MS", 0, 3_600_000);
  const serfPanicPercent = int("LB_SERF_PANIC_THRESHOLD", 0, 100);
  const drainPanicPercent = int("LB_DRAIN_PANIC_THRESHOLD", 0, 100);
  const passTimeoutMs = int("LB_PASS_TIMEOUT_MS", 1_000, 600_000);
  const dockerTimeoutMs = int("LB_DOCKER_TIMEOUT_MS", 100, 120_000);
  const memberTag = SELECTOR_RE.exec(match("LB_SERF_MEMBER_TAG", SELECTOR_RE, "must be a tag key=value"));
  const statsUser = raw("LB_STATS_USER");
  const statsPassword = raw("LB_STATS_PASSWORD");
  if ((statsUser === "") !== (statsPassword === ""))
    problems.push("LB_STATS_USER and LB_STATS_PASSWORD: set both or neither");
  if (statsUser !== "" && !/^[A-Za-z0-9._-]{1,64}$/.test(statsUser))
    problems.push("LB_STATS_USER: 1-64 letters, digits, '.', '_' or '-'");
  // Printed into haproxy.cfg: no whitespace, quotes, '#' or '\\' that could end the directive.
  if ((statsPassword !== "" && !/^[\x21-\x7e]{1,128}$/.test(statsPassword)) || /["'#\\]/.test(statsPassword)) {
    problems.push("LB_STATS_PASSWORD: 1-128 printable ASCII characters, no spaces, quotes, '#' or backslash");
  }

  if (!isLoopback(statsBind) && (statsUser === "" || statsPassword === "")) {
    problems.push(
      `LB_STATS_BIND=${JSON.stringify(statsBind)}: the stats page would be published beyond this host without credentials; set LB_STATS_USER and LB_STATS_PASSWORD, or publish it on 127.0.0.1`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    source,
    network,
    labelPrefix,
    defaultBackend,
    templatePath,
    outputPath,
    changesFile,
    maintenanceFile,
    changesMaxBytes,
    changesKeep,
    runtimeSocket,
    serverStateFile,
    masterSocket,
    quietMs,
    maxWaitMs,
    resyncMs,
    reloadConfirmMs,
    replicaCheckMs,
    haproxySelector: Object.freeze({ key: sel![1]!, value: sel![2]! }),
    haproxyBin,
    docker:
      unix !== null
        ? Object.freeze({ socketPath: unix[1]! })
        : Object.freeze({ host: tcp?.[1] ?? "localhost", port: Number(tcp?.[2] ?? 2375), protocol: "http" as const }),
    logLevel: level as Config["logLevel"],
    statusPort,
    statusAddress,
    statusHosts: Object.freeze([...new Set(statusHosts)]),
    serfRpcAuth: serfRpcAuth === "" ? null : serfRpcAuth,
    readiness: readiness as Config["readiness"],
    runtimeApi,
    serfRpc: serfRaw === "none" ? null : Object.freeze({ host: serfRaw.split(":")[0]!, port: serfPort }),
    serfGraceMs,
    serfPanicThreshold: serfPanicPercent / 100,
    drainPanicThreshold: drainPanicPercent / 100,
    passTimeoutMs,
    dockerTimeoutMs,
    serfMemberTag: Object.freeze({ key: memberTag?.[1] ?? "role", value: memberTag?.[2] ?? "webapp" }),
    statsAuth: statsUser === "" ? null : `${statsUser}:${statsPassword}`,
  });
}

/** Whether an IP address is a loopback one (127.0.0.0/8, ::1). */
export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === "::1" || address === "0:0:0:0:0:0:0:1";
}

/** Names in `env` that look like settings (LB_*) but are not ones: each with the closest known name. */
export function unknownSettings(
  env: Readonly<Record<string, string | undefined>>,
): Array<{ name: string; closest: string }> {
  const known = Object.keys(SETTINGS);
  return Object.keys(env)
    .filter((name) => name.startsWith("LB_") && !known.includes(name))
    .sort()
    .map((name) => ({
      name,
      closest: known.reduce((best, k) => (distance(name, k) < distance(name, best) ? k : best)),
    }));
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
