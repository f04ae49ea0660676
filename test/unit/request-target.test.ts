import { checkHost, parseHostPort, parseRequestTarget } from "../../sidecar/status/request-target";
import { changeFilter, timelineMinutes } from "../../sidecar/status/status-server";

const target = (raw: string) => {
  const t = parseRequestTarget(raw);
  return typeof t === "string" ? t : { path: t.path, query: t.query.toString(), authority: t.authority };
};

describe("parseRequestTarget (pure)", () => {
  it.each([
    ["/", { path: "/", query: "", authority: null }],
    ["/changes?container=web_1&since=5", { path: "/changes", query: "container=web_1&since=5", authority: null }],
    ["/timeline.svg?minutes=15", { path: "/timeline.svg", query: "minutes=15", authority: null }],
    ["//status", { path: "//status", query: "", authority: null }],
    ["/%73tatus", { path: "/%73tatus", query: "", authority: null }],
    ["/changes?container=%C3%A9", { path: "/changes", query: "container=%C3%A9", authority: null }],
    ["/?q=%ff", { path: "/", query: "q=%EF%BF%BD", authority: null }],
    ["http://127.0.0.1:8080/status", { path: "/status", query: "", authority: "127.0.0.1:8080" }],
    ["HTTP://localhost", { path: "/", query: "", authority: "localhost" }],
    ["http://[::1]:8080?x=1", { path: "/", query: "x=1", authority: "[::1]:8080" }],
  ])("reads %j", (raw, expected) => expect(target(raw)).toEqual(expected));

  // The first five are the security review's: each used to end the process.
  it.each([
    ["http://[/", "request target: host [: '[' without ']'"],
    ["http://a:99999/", "request target: port 99999: out of range (0-65535)"],
    ["//[/status", "path //[/status: character '[' not allowed"],
    ["http://a%zz/", "request target: host a%zz: character '%' not allowed in a name"],
    ["http://a@/", "request target: host a@: user info (user@) not allowed"],
    ["", "empty request target"],
    ["*", "asterisk-form (*) is not served: ask for a path, like /status"],
    ["status", "request target status: must be a path (/status) or an absolute http URL"],
    ["ftp://a/b", "scheme ftp: only http is served"],
    ["/a#b", "request target: '#' not allowed (a fragment is never sent)"],
    ["/a\x00b", "request target: character 0x00 not allowed"],
    ["/\u00e9", "request target: character 0xe9 not allowed"],
    ['/a"b', "path /a\"b: character '\"' not allowed"],
    ["/a%zz", "path /a%zz: '%' must start a %XX escape"],
    ["/changes?container=%", "query container=%: '%' must start a %XX escape"],
    ["http://[::1/", "request target: host [::1: '[' without ']'"],
    ["http://[zz]/", "request target: host [zz]: not an IPv6 address"],
    ["http://a:1:2/", "request target: host a:1:2: a port is 1 to 5 digits after one ':'"],
    ["http:///x", "request target: empty host"],
    [`/${"a".repeat(9000)}`, "request target longer than 8192 characters"],
  ])("refuses %j: %s", (raw, message) => expect(parseRequestTarget(raw)).toBe(message));
});

describe("parseHostPort (pure)", () => {
  it.each([
    ["127.0.0.1", { host: "127.0.0.1", port: null, ipLiteral: true }],
    ["127.0.0.1:8080", { host: "127.0.0.1", port: 8080, ipLiteral: true }],
    ["[::1]:80", { host: "[::1]", port: 80, ipLiteral: true }],
    ["[FE80::1]", { host: "[fe80::1]", port: null, ipLiteral: true }],
    ["LocalHost:", { host: "localhost", port: null, ipLiteral: false }],
    ["sidecar_status.control:8080", { host: "sidecar_status.control", port: 8080, ipLiteral: false }],
  ])("reads %j", (text, expected) => expect(parseHostPort(text)).toEqual(expected));

  it.each([
    ["", "empty host"],
    [":80", "host :80: empty name"],
    ["a b", "host a b: character 0x20 not allowed in a name"],
    ["-a.example", "host -a.example: not a DNS name"],
    ["a..b", "host a..b: not a DNS name"],
    ["a:123456", "host a:123456: a port is 1 to 5 digits after one ':'"],
    ["[::1]x", "host [::1]x: a port is 1 to 5 digits after one ':'"],
    ["::1", "host ::1: a port is 1 to 5 digits after one ':'"],
  ])("refuses %j", (text, message) => expect(parseHostPort(text)).toBe(message));
});

describe("checkHost (pure): DNS rebinding", () => {
  const allowed = new Set(["sidecar-status", "ops.example"]);
  it.each([
    "127.0.0.1",
    "127.0.0.1:8080",
    "10.1.2.3:9080",
    "[::1]:8080",
    "localhost",
    "LOCALHOST:8080",
    "sidecar-status:8080",
    "OPS.example",
  ])("serves Host %j", (host) => expect(checkHost(host, allowed)).toEqual({ ok: true }));

  it.each<[string | undefined, number, string]>([
    [
      "evil.example",
      421,
      "Host evil.example is not served here: use an IP address or localhost, or add the name to LB_STATUS_HOSTS",
    ],
    [
      "localhost.evil.example:8080",
      421,
      "Host localhost.evil.example is not served here: use an IP address or localhost, or add the name to LB_STATUS_HOSTS",
    ],
    [
      "2130706433",
      421,
      "Host 2130706433 is not served here: use an IP address or localhost, or add the name to LB_STATUS_HOSTS",
    ],
    [undefined, 400, "a Host header is required"],
    ["a b", 400, "Host: host a b: character 0x20 not allowed in a name"],
    ["x@127.0.0.1", 400, "Host: host x@127.0.0.1: user info (user@) not allowed"],
  ])("refuses Host %j with %i", (host, status, error) =>
    expect(checkHost(host, allowed)).toEqual({ ok: false, status, error }),
  );
});

describe("query parameters (pure)", () => {
  const q = (s: string) => new URLSearchParams(s);
  it.each([
    ["", {}],
    ["container=web_1", { container: "web_1" }],
    ["since=1795615320412", { since: 1795615320412 }],
    ["container=web_1&since=2026-11-25T14:00:00Z", { container: "web_1", since: Date.UTC(2026, 10, 25, 14) }],
  ])("/changes?%s", (query, expected) => expect(changeFilter(q(query))).toEqual(expected));

  it.each([
    ["since=yesterday", "since=yesterday: an ISO time (2026-11-25T14:02:00Z) or epoch milliseconds"],
    ["since=99999999999999999", /^since=99999999999999999: an ISO time/],
    ["since=275760-09-13T00:00:00.001Z", /^since=275760-09-13T00:00:00.001Z: an ISO time/],
    ["since=", /^since=: an ISO time/],
    ["container=a&container=b", "container: given more than once"],
    ["since=1&since=2", "since: given more than once"],
    ["container=", "container: 1 to 256 characters"],
    [`container=${"x".repeat(257)}`, "container: 1 to 256 characters"],
    ["host=x", "unknown filter host: use container and since"],
    [`${"k".repeat(100)}=1`, /^unknown filter k{64}…: use container and since$/],
  ])("/changes?%s is a 400", (query, message) => expect(changeFilter(q(query))).toMatch(message));

  it.each([
    ["", 60],
    ["minutes=1", 1],
    ["minutes=1440", 1440],
  ])("/timeline.svg?%s", (query, expected) => expect(timelineMinutes(q(query))).toBe(expected));

  it.each([
    ["minutes=0", "minutes=0: a whole number from 1 to 1440"],
    ["minutes=1441", "minutes=1441: a whole number from 1 to 1440"],
    ["minutes=0x10", "minutes=0x10: a whole number from 1 to 1440"],
    ["minutes=1e1", "minutes=1e1: a whole number from 1 to 1440"],
    ["minutes=%205", "minutes= 5: a whole number from 1 to 1440"],
    ["minutes=5&minutes=6", "minutes: given more than once"],
    ["hours=1", "unknown parameter hours: use minutes"],
  ])("/timeline.svg?%s is a 400", (query, message) => expect(timelineMinutes(q(query))).toBe(message));
});
