import { decide, mayReload } from "../../sidecar/docker-proxy/policy";

const req = (method: string, url: string, headers: Record<string, string> = {}) => decide({ method, url, headers });

describe("the Docker API proxy's allowlist", () => {
  it.each([
    ["GET", "/_ping"],
    ["HEAD", "/_ping"],
    ["GET", "/v1.41/version"],
    ["GET", "/containers/json?all=false&filters=%7B%22label%22%3A%5B%22heig.lb.enable%22%5D%7D"],
    ["GET", "/v1.41/containers/json"],
    ["GET", "/containers/0123abcd/json"],
    ["GET", "/v1.45/containers/compose_ha_1/json"],
    ["GET", "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D"],
    ["GET", "/networks"],
    ["GET", "/networks/heig"],
    ["GET", "/v1.41/services"],
    ["GET", "/tasks?filters=%7B%7D"],
    ["GET", "/nodes/abc"],
    ["POST", "/containers/abc123/kill?signal=SIGUSR2"],
    ["POST", "/v1.41/containers/abc123/kill?signal=USR2"],
  ])("allows %s %s", (method, url) => {
    expect(req(method, url)).toMatchObject({ allow: true });
  });

  it.each([
    ["POST", "/containers/create", "creating a container"],
    ["POST", "/containers/abc/stop", "stopping one"],
    ["POST", "/containers/abc/start", "starting one"],
    ["DELETE", "/containers/abc", "removing one"],
    ["POST", "/containers/abc/exec", "exec"],
    ["POST", "/exec/abc/start", "starting an exec"],
    ["GET", "/containers/abc/archive?path=/etc", "reading an archive"],
    ["HEAD", "/containers/abc/archive?path=/etc", "probing an archive"],
    ["GET", "/containers/abc/export", "exporting a filesystem"],
    ["GET", "/containers/abc/logs", "reading logs"],
    ["POST", "/containers/abc/attach", "attaching"],
    ["POST", "/containers/abc/kill", "a kill without a signal (SIGKILL)"],
    ["POST", "/containers/abc/kill?signal=SIGKILL", "SIGKILL"],
    ["POST", "/containers/abc/kill?signal=SIGUSR2&signal=SIGKILL", "two signals"],
    ["POST", "/containers/abc/kill?signal=SIGUSR2&x=1", "an extra parameter"],
    ["GET", "/containers/json/../../images/json", "a dot-dot path"],
    ["GET", "/containers/%2e%2e/json", "an encoded dot-dot"],
    ["GET", "/containers/a%2Fb/json", "an encoded slash"],
    ["GET", "/images/json", "listing images"],
    ["GET", "/v1.41/secrets", "reading secrets"],
    ["POST", "/services/create", "creating a service"],
    ["POST", "/build", "building"],
    ["GET", "/containers/jsonx", "a longer path with an allowed prefix"],
    ["GET", "/_pingx", "a longer ping"],
    ["GET", "//containers/json", "a double slash"],
    ["PUT", "/containers/abc/archive", "writing files"],
  ])("denies %s %s (%s)", (method, url) => {
    expect(req(method, url)).toMatchObject({ allow: false });
  });

  it("denies any connection upgrade, even on an allowed path", () => {
    expect(req("GET", "/events", { upgrade: "tcp" })).toMatchObject({
      allow: false,
      reason: expect.stringContaining("upgrade"),
    });
    expect(req("GET", "/_ping", { connection: "keep-alive, Upgrade" })).toMatchObject({ allow: false });
  });

  it("marks the event stream as a stream, and names a kill's target", () => {
    expect(req("GET", "/v1.41/events")).toEqual({ allow: true, rule: "events", stream: true, killTarget: null });
    expect(req("POST", "/containers/compose_ha_1/kill?signal=SIGUSR2")).toMatchObject({ killTarget: "compose_ha_1" });
  });
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
