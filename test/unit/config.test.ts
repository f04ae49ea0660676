import { ConfigError, parseConfig } from "../../sidecar/config";

describe("parseConfig", () => {
  it("has defaults for everything", () => {
    expect(parseConfig({})).toEqual({
      source: "docker",
      network: "heig",
      labelPrefix: "heig.lb",
      defaultBackend: "webapp",
      templatePath: "/app/templates/haproxy.cfg.hbs",
      outputPath: "/var/lib/ha-sidecar/haproxy.cfg",
      changesFile: "/var/lib/ha-sidecar/changes.jsonl",
      maintenanceFile: "/var/lib/ha-sidecar/maintenance.json",
      changesMaxBytes: 1048576,
      changesKeep: 1000,
      runtimeSocket: "/var/lib/ha-sidecar/run/admin.sock",
      serverStateFile: "/var/lib/ha-sidecar/server-state",
      masterSocket: "/var/lib/ha-sidecar/run/master.sock",
      quietMs: 100,
      maxWaitMs: 4000,
      resyncMs: 30000,
      reloadConfirmMs: 2000,
      replicaCheckMs: 1000,
      haproxySelector: { key: "heig.lb.role", value: "haproxy" },
      haproxyBin: "haproxy",
      docker: { socketPath: "/var/run/docker.sock" },
      logLevel: "info",
      statusPort: 8080,
      statusAddress: "0.0.0.0",
      statusHosts: [],
      serfRpcAuth: null,
      readiness: "tcp",
      runtimeApi: true,
      serfRpc: { host: "serf", port: 7373 },
      serfGraceMs: 15000,
      serfPanicThreshold: 0.5,
      drainPanicThreshold: 0.5,
      passTimeoutMs: 30000,
      dockerTimeoutMs: 5000,
      serfMemberTag: { key: "role", value: "webapp" },
      statsAuth: null,
    });
  });

  it("reads overrides and returns a frozen object", () => {
    const c = parseConfig({
      LB_NETWORK: "front",
      LB_QUIET_MS: "50",
      LB_MAX_WAIT_MS: "500",
      LB_HAPROXY_SELECTOR: "role=lb",
    });
    expect(c).toMatchObject({
      network: "front",
      quietMs: 50,
      maxWaitMs: 500,
      haproxySelector: { key: "role", value: "lb" },
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("lists every bad setting by name in one error", () => {
    let err: unknown;
    try {
      parseConfig({
        LB_QUIET_MS: "soon",
        LB_OUTPUT: "relative/haproxy.cfg",
        LB_LOG_LEVEL: "loud",
        LB_LABEL_PREFIX: "Heig LB",
        LB_HAPROXY_SELECTOR: "ha",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(5);
    for (const name of ["LB_QUIET_MS", "LB_OUTPUT", "LB_LOG_LEVEL", "LB_LABEL_PREFIX", "LB_HAPROXY_SELECTOR"]) {
      expect(problems.some((p) => p.startsWith(`${name}=`))).toBe(true);
    }
  });

  it("keeps the change log in memory only with LB_CHANGES_FILE=none, and refuses a relative path", () => {
    expect(parseConfig({ LB_CHANGES_FILE: "none" }).changesFile).toBeNull();
    expect(() => parseConfig({ LB_CHANGES_FILE: "changes.jsonl" })).toThrow(
      /LB_CHANGES_FILE="changes.jsonl": must be an absolute path/,
    );
    expect(() => parseConfig({ LB_CHANGES_KEEP: "0" })).toThrow(/LB_CHANGES_KEEP/);
  });

  it("takes the status server's extra host names, lowercase, and refuses what is no name", () => {
    expect(parseConfig({ LB_STATUS_HOSTS: " Sidecar-Status, ops.example,," }).statusHosts).toEqual([
      "sidecar-status",
      "ops.example",
    ]);
    expect(() => parseConfig({ LB_STATUS_HOSTS: "ok.example,bad name,x:80" })).toThrow(
      /LB_STATUS_HOSTS: "bad name" is not a host name[^]*LB_STATUS_HOSTS: "x:80" is not a host name/,
    );
  });

  it("checks the replicas every LB_REPLICA_CHECK_MS: 0 (only after changes), or from 100", () => {
    expect(parseConfig({ LB_REPLICA_CHECK_MS: "0" }).replicaCheckMs).toBe(0);
    expect(parseConfig({ LB_REPLICA_CHECK_MS: "250" }).replicaCheckMs).toBe(250);
    expect(() => parseConfig({ LB_REPLICA_CHECK_MS: "50" })).toThrow(/LB_REPLICA_CHECK_MS=50: 0 \(off\) or from 100/);
    expect(() => parseConfig({ LB_REPLICA_CHECK_MS: "soon" })).toThrow(/LB_REPLICA_CHECK_MS/);
  });

  it("refuses a runtime socket path that would break out of HAProxy's ${HA_RUNTIME_SOCKET-...}", () => {
    expect(parseConfig({ LB_RUNTIME_SOCKET: "/run/ha/admin.sock" }).runtimeSocket).toBe("/run/ha/admin.sock");
    for (const bad of ["/run/a}b.sock", "/run/a b.sock", '/run/"a.sock', "/run/$X.sock"])
      expect(() => parseConfig({ LB_RUNTIME_SOCKET: bad })).toThrow(/LB_RUNTIME_SOCKET/);
  });

  it("refuses a maximum wait shorter than the quiet time", () => {
    expect(() => parseConfig({ LB_QUIET_MS: "500", LB_MAX_WAIT_MS: "100" })).toThrow(/LB_MAX_WAIT_MS/);
  });

  it("takes stats credentials as a pair, and refuses ones that could break haproxy.cfg", () => {
    expect(parseConfig({ LB_STATS_USER: "admin", LB_STATS_PASSWORD: "s3cr3t!" }).statsAuth).toBe("admin:s3cr3t!");
    expect(() => parseConfig({ LB_STATS_USER: "admin" })).toThrow(/set both or neither/);
    expect(() => parseConfig({ LB_STATS_USER: "admin", LB_STATS_PASSWORD: "a b" })).toThrow(/LB_STATS_PASSWORD/);
    expect(() => parseConfig({ LB_STATS_USER: "admin", LB_STATS_PASSWORD: "x#y" })).toThrow(/LB_STATS_PASSWORD/);
    expect(() => parseConfig({ LB_STATS_USER: "ad min", LB_STATS_PASSWORD: "x" })).toThrow(/LB_STATS_USER/);
  });

  it.each([
    ["unix:///host-run/docker.sock", { socketPath: "/host-run/docker.sock" }],
    ["tcp://docker-proxy:2375", { host: "docker-proxy", port: 2375, protocol: "http" }],
  ])("reads DOCKER_HOST=%s", (value, docker) => {
    expect(parseConfig({ DOCKER_HOST: value }).docker).toEqual(docker);
  });

  it.each(["/var/run/docker.sock", "tcp://host", "tcp://host:99999", "ssh://me@host", "unix://relative"])(
    "refuses DOCKER_HOST=%s",
    (value) => {
      expect(() => parseConfig({ DOCKER_HOST: value })).toThrow(/DOCKER_HOST/);
    },
  );

  it("refuses to publish the stats page beyond this host without credentials", () => {
    expect(() => parseConfig({ LB_STATS_BIND: "0.0.0.0" })).toThrow(
      /LB_STATS_BIND="0.0.0.0": the stats page would be published beyond this host without credentials/,
    );
    expect(parseConfig({ LB_STATS_BIND: "0.0.0.0", LB_STATS_USER: "ops", LB_STATS_PASSWORD: "s3cret" }).statsAuth).toBe(
      "ops:s3cret",
    );
    expect(parseConfig({ LB_STATS_BIND: "127.0.0.2" }).statsAuth).toBeNull();
  });

  it("takes a Serf RPC auth key of printable characters", () => {
    expect(parseConfig({ LB_SERF_RPC_AUTH: "0123456789abcdef" }).serfRpcAuth).toBe("0123456789abcdef");
    expect(() => parseConfig({ LB_SERF_RPC_AUTH: "short" })).toThrow(/LB_SERF_RPC_AUTH/);
  });
});

describe("LB_MAINTENANCE_FILE", () => {
  it.each([
    [{}, "/var/lib/ha-sidecar/maintenance.json"],
    [{ LB_CHANGES_FILE: "/data/log/changes.jsonl" }, "/data/log/maintenance.json"],
    [{ LB_CHANGES_FILE: "none", LB_OUTPUT: "/etc/ha/haproxy.cfg" }, "/etc/ha/maintenance.json"],
    [{ LB_MAINTENANCE_FILE: "/x/maint.json" }, "/x/maint.json"],
    [{ LB_MAINTENANCE_FILE: "none" }, null],
  ])("%j → %s", (env, file) => {
    expect(parseConfig(env).maintenanceFile).toBe(file);
  });
  it("refuses a relative path", () => {
    expect(() => parseConfig({ LB_MAINTENANCE_FILE: "m.json" })).toThrow(
      /LB_MAINTENANCE_FILE="m.json": must be an absolute path/,
    );
  });
});
