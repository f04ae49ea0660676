/** The sidecar's settings (environment variables), each with its default and meaning. */
/** One documented setting: its env name, default and meaning (the README table is checked against it). */
export const SETTINGS = {
  LB_SOURCE: {
    def: "docker",
    doc: "`docker`: the containers of this host; `swarm`: the tasks of the swarm's services (through a manager's API)",
  },
  LB_NETWORK: { def: "heig", doc: "Docker network whose containers are backends; their IP on it is used" },
  LB_LABEL_PREFIX: {
    def: "heig.lb",
    doc: "prefix of the labels read (`<prefix>.enable`, `.port`, `.backend`, `.weight`)",
  },
  LB_DEFAULT_BACKEND: {
    def: "webapp",
    doc: "HAProxy backend for containers with no `backend` label and no compose service",
  },
  LB_TEMPLATE: {
    def: "/app/templates/haproxy.cfg.hbs",
    doc: "Handlebars template of haproxy.cfg; looked at every second, an edit in place is applied at once",
  },
  LB_OUTPUT: { def: "/var/lib/ha-sidecar/haproxy.cfg", doc: "config file HAProxy reads (on the shared volume)" },
  LB_CHANGES_FILE: {
    def: "/var/lib/ha-sidecar/changes.jsonl",
    doc: "the change log, as JSON lines (rotated to `<file>.1`); a restart reads it back; `none`: in memory only",
  },
  LB_CHANGES_MAX_BYTES: {
    def: "1048576",
    doc: "the change log file is rotated past this size (at most twice this on disk)",
  },
  LB_MAINTENANCE_FILE: {
    def: "auto",
    doc: "containers put in maintenance by `sidecar maint` (JSON, written atomically), read back after a restart; `auto`: `maintenance.json` beside `LB_CHANGES_FILE` (beside `LB_OUTPUT` when that is `none`); `none`: in memory only",
  },
  LB_CHANGES_KEEP: { def: "1000", doc: "change records kept in memory and served at /changes (the last ones)" },
  LB_RUNTIME_SOCKET: {
    def: "/var/lib/ha-sidecar/run/admin.sock",
    doc: "HAProxy runtime socket on the shared volume; replica k (label `<prefix>.replica=k`) has its own, `run/<k>/admin.sock` beside it",
  },
  LB_SERVER_STATE_FILE: {
    def: "/var/lib/ha-sidecar/server-state",
    doc: "where server state is saved before each reload",
  },
  LB_MASTER_SOCKET: {
    def: "/var/lib/ha-sidecar/run/master.sock",
    doc: "HAProxy master CLI socket (drains reach old workers through it); replica k's is `run/<k>/master.sock` beside it",
  },
  LB_QUIET_MS: { def: "100", doc: "coalescing: reconcile once events have been quiet this long" },
  LB_MAX_WAIT_MS: {
    def: "4000",
    doc: "coalescing: reconcile at the latest this long after the first event of a burst",
  },
  LB_RESYNC_MS: { def: "30000", doc: "full resync period, whatever the events say" },
  LB_PASS_TIMEOUT_MS: { def: "30000", doc: "a reconcile pass that takes longer is abandoned, as a failure to retry" },
  LB_DOCKER_TIMEOUT_MS: {
    def: "5000",
    doc: "every Docker API call answers within this or fails (to be retried); the event stream is checked with a ping every 10 s",
  },
  LB_REPLICA_CHECK_MS: {
    def: "1000",
    doc: "every HAProxy replica is read back this often and compared with the desired state; one that drifted (a command typed on its socket) or answers again after a pause or restart is brought back at once; `0`: only after changes",
  },
  LB_RELOAD_CONFIRM_MS: {
    def: "2000",
    doc: "how long to wait for HAProxy to report the new config before signalling again",
  },
  LB_HAPROXY_SELECTOR: {
    def: "heig.lb.role=haproxy",
    doc: "label `key=value` of the HAProxy containers (the replicas) of this stack, each reloaded by SIGUSR2",
  },
  LB_HAPROXY_BIN: { def: "haproxy", doc: "haproxy binary used for `haproxy -c` validation" },
  DOCKER_HOST: {
    def: "unix:///var/run/docker.sock",
    doc: "Docker Engine API: `unix:///path` or `tcp://host:port` (compose: the filtering proxy, `tcp://docker-proxy:2375`)",
  },
  LB_LOG_LEVEL: { def: "info", doc: "pino level: fatal, error, warn, info, debug, trace" },
  LB_STATUS_PORT: { def: "8080", doc: "port of the status server (/healthz, /status)" },
  LB_STATUS_ADDRESS: {
    def: "0.0.0.0",
    doc: "address (or a name, resolved at start) the status server listens on, besides 127.0.0.1; compose: the sidecar's address on the control network, never on the watched one",
  },
  LB_STATUS_HOSTS: {
    def: "",
    doc: "comma-separated names the status server answers to besides IP addresses and `localhost` (any other Host is refused: a web page cannot read it by DNS rebinding)",
  },
  LB_SERF_RPC: {
    def: "serf:7373",
    doc: "Serf agent RPC `host:port` for the health cross-reference; `none` to use Docker alone",
  },
  LB_SERF_GRACE_MS: {
    def: "15000",
    doc: "a routed container with no live Serf member for this long leaves rotation (a `failed` one leaves at once)",
  },
  LB_SERF_PANIC_THRESHOLD: {
    def: "50",
    doc: "percent: Serf never takes out so many members of a backend that fewer than this share of its Docker-healthy ones stay routed; past that, the backend is routed on Docker's view (like Envoy's panic threshold)",
  },
  LB_DRAIN_PANIC_THRESHOLD: {
    def: "50",
    doc: "percent: a server leaving rotation that still runs stays routed where draining it would leave its backend empty, or, while replacements are on their way (running, not answering yet), fewer than this share of the servers that can serve now; a plain scale-down drains at once; 0: always drained at once",
  },
  LB_SERF_MEMBER_TAG: {
    def: "role=webapp",
    doc: "Serf tag `key=value` of the agents that run beside backends; a live one that matches no container is reported as drift",
  },
  LB_SERF_RPC_AUTH: { def: "", doc: "key for the Serf agent's RPC (its `-rpc-auth`); empty: none" },
  LB_STATS_BIND: {
    def: "127.0.0.1",
    doc: "host address the stats page is published on (compose's STATS_BIND); anything but loopback requires LB_STATS_USER and LB_STATS_PASSWORD",
  },
  LB_STATS_USER: { def: "", doc: "user for the HAProxy stats page (with LB_STATS_PASSWORD); empty: no authentication" },
  LB_STATS_PASSWORD: { def: "", doc: "password for the HAProxy stats page" },
  LB_RUNTIME_API: {
    def: "on",
    doc: "`on`: servers coming and going are applied through HAProxy's runtime API, reloads only for structural changes; `off`: every change is a reload",
  },
  LB_READINESS: {
    def: "tcp",
    doc: "`tcp`: route a container without HEALTHCHECK once its port accepts a connection from the sidecar; `none`: at once",
  },
} as const;
