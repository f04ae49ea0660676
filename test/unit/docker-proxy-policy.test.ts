import { decide, mayReload, type Decision } from "../../sidecar/docker-proxy/policy";
import { parseFilters, parseTarget } from "../../sidecar/docker-proxy/target";

const POLICY = { labelPrefix: "heig.lb", reloadSelector: { key: "heig.lb.role", value: "haproxy" } };
const req = (method: string, url: string, headers: Record<string, string> = {}): Decision =>
  decide({ method, url, headers }, POLICY);
/** `filters=` as dockerode writes it. */
const f = (filters: unknown): string => `filters=${encodeURIComponent(JSON.stringify(filters))}`;

describe("the Docker API proxy's allowlist: what the sidecar sends", () => {
  it.each<[string, string, Record<string, string>, string, string]>([
    ["GET", "/_ping", {}, "ping", "/_ping"],
    ["GET", "/v1.41/_ping", {}, "ping", "/v1.41/_ping"],
    [
      "GET",
      `/containers/json?all=false&${f({ label: ["heig.lb.enable"], network: ["heig"] })}`,
      {},
      "list-containers",
      `/containers/json?all=false&${f({ label: ["heig.lb.enable"], network: ["heig"] })}`,
    ],
    [
      "GET",
      `/containers/json?all=false&${f({ label: ["heig.lb.enable"], network: ["heig"], id: ["a".repeat(64)] })}`,
      {},
      "list-containers",
      // The listing narrowed to the containers hints named (ids rebuilt in a sorted filter).
      `/containers/json?all=false&${f({ id: ["a".repeat(64)], label: ["heig.lb.enable"], network: ["heig"] })}`,
    ],
    [
      "GET",
      `/containers/json?${f({ status: ["running"], label: ["heig.lb.role=haproxy", "com.docker.compose.project=hs"] })}`,
      {},
      "list-containers",
      // Rebuilt: keys sorted, the same values.
      `/containers/json?${f({ label: ["heig.lb.role=haproxy", "com.docker.compose.project=hs"], status: ["running"] })}`,
    ],
    [
      "GET",
      `/v1.41/containers/json?${f({ label: ["heig.lb.enable=true"] })}`,
      {},
      "list-containers",
      `/v1.41/containers/json?${f({ label: ["heig.lb.enable=true"] })}`,
    ],
    ["GET", "/containers/0123abcd/json", {}, "inspect-container", "/containers/0123abcd/json"],
    ["GET", "/v1.45/containers/compose_ha_1/json", {}, "inspect-container", "/v1.45/containers/compose_ha_1/json"],
    [
      "GET",
      `/events?${f({ type: ["container", "network"] })}`,
      {},
      "events",
      `/events?${f({ type: ["container", "network"] })}`,
    ],
    [
      "GET",
      `/events?${f({ type: ["service", "node", "container"] })}`,
      {},
      "events",
      `/events?${f({ type: ["service", "node", "container"] })}`,
    ],
    ["GET", "/services", {}, "list-services", "/services"],
    ["GET", `/tasks?${f({ service: ["abc", "def"] })}`, {}, "list-tasks", `/tasks?${f({ service: ["abc", "def"] })}`],
    // dockerode sends the kill's options as a JSON body too: read and dropped, never relayed.
    [
      "POST",
      "/containers/abc123/kill?signal=SIGUSR2",
      { "content-type": "application/json", "content-length": "20" },
      "reload-haproxy",
      "/containers/abc123/kill?signal=SIGUSR2",
    ],
    [
      "POST",
      "/v1.41/containers/abc123/kill?signal=USR2",
      {},
      "reload-haproxy",
      "/v1.41/containers/abc123/kill?signal=USR2",
    ],
  ])("allows %s %s", (method, url, headers, route, upstreamPath) => {
    expect(req(method, url, headers)).toMatchObject({ allow: true, route, upstreamPath });
  });

  it("names a kill's target, and only a kill's", () => {
    expect(req("POST", "/containers/compose_ha_1/kill?signal=SIGUSR2")).toMatchObject({ killTarget: "compose_ha_1" });
    expect(req("GET", "/containers/compose_ha_1/json")).toMatchObject({ killTarget: null });
  });

  it("relays a filter as it read it, whatever encoding the client chose", () => {
    const plain = req("GET", `/events?${f({ type: ["container"] })}`);
    const spaced = req("GET", `/events?filters=${encodeURIComponent('{ "type" : [ "container" ] }')}`);
    expect(spaced).toEqual(plain);
  });
});

describe("the Docker API proxy's allowlist: everything else", () => {
  it.each([
    ["GET", "/version", "the engine's version (the sidecar never asks)"],
    ["GET", "/v1.41/version", "the same, versioned"],
    ["HEAD", "/_ping", "HEAD (the sidecar only GETs)"],
    ["HEAD", "/containers/abc/json", "HEAD of an inspect"],
    ["GET", "/info", "the engine's info"],
    ["GET", "/networks", "listing networks"],
    ["GET", "/networks/heig", "inspecting a network"],
    ["GET", "/nodes", "listing nodes"],
    ["GET", "/nodes/abc", "inspecting a node"],
    ["GET", "/services/abc", "inspecting a service (its full spec, env included)"],
    ["GET", "/tasks/abc", "inspecting a task"],
    ["GET", "/containers/json", "a listing without filters (every container on the host)"],
    ["GET", `/containers/json?${f({ network: ["heig"] })}`, "a listing without our label"],
    ["GET", `/containers/json?${f({ label: ["com.example.db"] })}`, "a listing by another label"],
    ["GET", `/containers/json?${f({ label: ["heig.lb.enablex"] })}`, "a label that only starts like ours"],
    [
      "GET",
      `/containers/json?${f({ label: ["heig.lb.role=haproxyx"] })}`,
      "a selector value that only starts like ours",
    ],
    ["GET", `/containers/json?${f({ label: ["heig.lb.role"] })}`, "the selector's key without its value"],
    ["GET", `/containers/json?all=true&${f({ label: ["heig.lb.enable"] })}`, "stopped containers too"],
    ["GET", `/containers/json?size=1&${f({ label: ["heig.lb.enable"] })}`, "another parameter"],
    ["GET", `/containers/json?${f({ label: ["heig.lb.enable"], name: ["db"] })}`, "another filter"],
    ["GET", `/containers/json?${f({ label: ["heig.lb.enable"], network: [] })}`, "an empty filter"],
    ["GET", `/containers/json?${f({ label: ["heig.lb.enable"], id: ["abc"] })}`, "an id that is no full container id"],
    ["GET", `/containers/json?${f({ id: ["a".repeat(64)] })}`, "a listing by id without our label"],
    ["GET", `/containers/json?${f({ label: ["heig.lb.enable"], status: ["sleeping"] })}`, "an unknown status"],
    ["GET", `/containers/json?${f({ label: ["heig.lb.enable"], network: ["../x"] })}`, "a network that is no name"],
    ["GET", "/containers/abc/json?size=1", "an inspect with a parameter"],
    ["GET", "/events", "events without a type filter (every container's labels)"],
    ["GET", `/events?${f({ type: ["image"] })}`, "image events"],
    ["GET", `/events?${f({ type: ["container"], container: ["db"] })}`, "another event filter"],
    ["GET", `/events?since=0&${f({ type: ["container"] })}`, "replaying past events"],
    ["GET", `/events?${f({})}`, "an empty filter object"],
    ["GET", `/services?${f({ label: ["heig.lb.enable"] })}`, "a service listing with a parameter"],
    ["GET", "/tasks", "tasks without a service filter"],
    ["GET", `/tasks?${f({ "desired-state": ["running"] })}`, "tasks by another filter"],
    ["GET", `/tasks?${f({ service: ["abc"], node: ["n1"] })}`, "tasks by service and another filter"],
    ["POST", "/containers/create", "creating a container"],
    ["POST", "/containers/abc/stop", "stopping one"],
    ["POST", "/containers/abc/start", "starting one"],
    ["DELETE", "/containers/abc", "removing one"],
    ["POST", "/containers/abc/exec", "exec"],
    ["POST", "/exec/abc/start", "starting an exec"],
    ["GET", "/containers/abc/archive?path=/etc", "reading an archive"],
    ["GET", "/containers/abc/export", "exporting a filesystem"],
    ["GET", "/containers/abc/logs", "reading logs"],
    ["GET", "/containers/abc/top", "listing processes"],
    ["POST", "/containers/abc/attach", "attaching"],
    ["POST", "/containers/abc/kill", "a kill without a signal (SIGKILL)"],
    ["POST", "/containers/abc/kill?signal=SIGKILL", "SIGKILL"],
    ["POST", "/containers/abc/kill?signal=SIGUSR2&x=1", "an extra parameter"],
    ["GET", "/containers/abc/kill?signal=SIGUSR2", "a kill by GET"],
    ["POST", "/containers/abc/json", "an inspect by POST"],
    ["GET", "/containers/json/../../images/json", "a dot-dot path"],
    ["GET", "/containers/%2e%2e/json", "an encoded dot-dot"],
    ["GET", "/containers/a%2Fb/json", "an encoded slash"],
    ["GET", "/containers/.hidden/json", "a name starting with a dot"],
    ["GET", "/images/json", "listing images"],
    ["GET", "/v1.41/secrets", "reading secrets"],
    ["GET", "/configs", "reading configs"],
    ["POST", "/services/create", "creating a service"],
    ["POST", "/build", "building"],
    ["GET", "/containers/jsonx", "a longer path with an allowed prefix"],
    ["GET", "/_pingx", "a longer ping"],
    ["GET", "/_ping/", "a trailing slash"],
    ["GET", "/v1.41/v1.41/_ping", "two version prefixes"],
    ["GET", "/v2.0/_ping", "another major version"],
    ["PUT", "/containers/abc/archive", "writing files"],
  ])("denies %s %s (%s) with 403", (method, url) => {
    expect(req(method, url)).toMatchObject({ allow: false, status: 403 });
  });

  it.each([
    ["http://[/", "an absolute-form target that is no URL"],
    ["http://docker/_ping", "an absolute-form target"],
    ["//x/_ping", "a double slash"],
    ["*", "asterisk form"],
    ["_ping", "no leading slash"],
    ["/containers/%zz/json", "bad percent-encoding in the path"],
    ["/containers/abc%/json", "a lone percent"],
    ["/events?filters=%E0%A4%A", "a cut UTF-8 sequence"],
    ["/events?filters=%ED%A0%80", "an encoded surrogate"],
    ["/_ping?a=1&a=2", "a repeated parameter"],
    [`/events?${f({ type: ["container"] })}&${f({ type: ["image"] })}`, "two filters parameters"],
    ["/_ping?&", "an empty parameter"],
    ["/_ping?=1", "a parameter without a name"],
    ["/events?filters=nope", "filters that is not JSON"],
    ["/events?filters=%5B%5D", "filters that is a list"],
    [`/events?${f({ type: { container: true } })}`, "Docker's older map form"],
    [`/events?${f({ type: [1] })}`, "a value that is no string"],
    [`/tasks?${f({ service: Array.from({ length: 300 }, (_, i) => `s${i}`) })}`, "too many values"],
    [`/_ping#x`, "a fragment"],
    ["/_ping?x=\u00e9", "a character outside ASCII"],
    ["/_ping?x=a b", "a space"],
    [`/_ping?x=${"a".repeat(9000)}`, "a target longer than 8 KiB"],
  ])("answers 400 to %s (%s)", (url) => {
    expect(req("GET", url)).toMatchObject({ allow: false, status: 400 });
  });

  it.each<[string, string, Record<string, string>]>([
    ["GET", "/_ping", { "content-length": "5" }],
    ["GET", "/services", { "transfer-encoding": "chunked" }],
    ["POST", "/containers/abc/kill?signal=SIGUSR2", { "content-length": "1000" }],
    ["POST", "/containers/abc/kill?signal=SIGUSR2", { "transfer-encoding": "chunked" }],
  ])("answers 413 to %s %s with %j (the sidecar sends no body)", (method, url, headers) => {
    expect(req(method, url, headers)).toMatchObject({ allow: false, status: 413 });
  });

  it("denies any connection upgrade, even on an allowed path", () => {
    expect(req("GET", `/events?${f({ type: ["container"] })}`, { upgrade: "tcp" })).toMatchObject({
      allow: false,
      status: 403,
      reason: expect.stringContaining("upgrade"),
    });
    expect(req("GET", "/_ping", { connection: "keep-alive, Upgrade" })).toMatchObject({ allow: false, status: 403 });
  });

  it("says which filter a listing lacks", () => {
    expect(req("GET", "/containers/json")).toEqual({
      allow: false,
      status: 403,
      reason: "filters required: label heig.lb.enable or heig.lb.role=haproxy",
    });
  });
});

describe("parseTarget", () => {
  it.each<[string, string, Record<string, string>]>([
    ["/_ping", "/_ping", {}],
    ["/_ping?", "/_ping", {}],
    ["/a?x=1&y=", "/a", { x: "1", y: "" }],
    ["/a?flag", "/a", { flag: "" }],
    ["/a?x=%7B%22a%22%7D", "/a", { x: '{"a"}' }],
    ["/a?x=a+b", "/a", { x: "a b" }],
    ["/a%41?x=1", "/a%41", { x: "1" }],
  ])("reads %s", (raw, path, query) => {
    const parsed = parseTarget(raw);
    expect(parsed.ok && { path: parsed.value.path, query: Object.fromEntries(parsed.value.query) }).toEqual({
      path,
      query,
    });
  });
});

describe("parseFilters", () => {
  it.each<[string, unknown]>([
    ['{"label":["a","b=c"]}', { label: ["a", "b=c"] }],
    ["{}", {}],
    ['{"type":[]}', { type: [] }],
  ])("reads %s", (raw, expected) => {
    const parsed = parseFilters(raw);
    expect(parsed.ok && Object.fromEntries(parsed.value)).toEqual(expected);
  });

  it.each(["", "null", "[]", '"x"', '{"a":"b"}', '{"a":{"b":true}}', '{"a":[null]}', '{"a":[["b"]]}'])(
    "refuses %s",
    (raw) => {
      expect(parseFilters(raw)).toMatchObject({ ok: false });
    },
  );
});

describe("mayReload", () => {
  const selector = { key: "heig.lb.role", value: "haproxy" };
  const stack = { key: "com.docker.compose.project", value: "compose" };
  it.each([
    [{ "heig.lb.role": "haproxy", "com.docker.compose.project": "compose" }, stack, true],
    [{ "heig.lb.role": "haproxy", "com.docker.compose.project": "other" }, stack, false],
    [{ "heig.lb.role": "haproxy" }, stack, false],
    [{ "com.docker.compose.project": "compose" }, stack, false],
    [{ "heig.lb.role": "haproxy" }, null, true],
  ])("%j in %j → %s", (labels, s, expected) => {
    expect(mayReload(labels, selector, s)).toBe(expected);
  });
});
