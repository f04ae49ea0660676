/**
 * The status server's findings of the security review (issue 18), over real HTTP on 127.0.0.1:
 * requests no one should send get an answer, never the end of the process.
 */
import { NOW, getRaw, healthyLoop, rawRequest, startFixture, type StatusFixture } from "./status-fixture";

let f: StatusFixture;
beforeAll(async () => {
  f = await startFixture(["sidecar-status"]);
});
afterAll(() => f.close());
afterEach(() => {
  f.view.loop = () => healthyLoop;
  f.view.records = [];
});

const errorOf = (body: string): unknown => (JSON.parse(body) as { error: unknown }).error;

describe("the status server, given targets Node's parser lets through and URL rejects", () => {
  it.each([
    ["http://[/", "request target: host [: '[' without ']'"],
    ["http://a:99999/", "request target: port 99999: out of range (0-65535)"],
    ["//[/status", "path //[/status: character '[' not allowed"],
    ["http://a%zz/", "request target: host a%zz: character '%' not allowed in a name"],
    ["http://a@/", "request target: host a@: user info (user@) not allowed"],
  ])("answers %j with a 400 naming what is wrong, and keeps serving", async (target, error) => {
    const res = await getRaw(f.port, target);
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(errorOf(res.body)).toBe(error);
    expect((await getRaw(f.port, "/healthz")).status).toBe(200);
  });

  it("serves an absolute-form target, the URL's host standing for Host", async () => {
    expect((await getRaw(f.port, "http://127.0.0.1:1/healthz", "evil.example")).status).toBe(200);
    expect((await getRaw(f.port, "http://evil.example/healthz", "127.0.0.1")).status).toBe(421);
  });
});

describe("the status server's Host check (DNS rebinding)", () => {
  it.each(["127.0.0.1:8080", "[::1]:8080", "localhost:8080", "LOCALHOST", "sidecar-status:8080", "10.0.0.7"])(
    "serves Host %j",
    async (host) => {
      expect((await getRaw(f.port, "/status", host)).status).toBe(200);
    },
  );

  it("refuses a name it was not given, with a 421 that says what to do", async () => {
    const res = await getRaw(f.port, "/status", "rebound.evil.example:8080");
    expect(res.status).toBe(421);
    expect(errorOf(res.body)).toBe(
      "Host rebound.evil.example is not served here: use an IP address or localhost, or add the name to LB_STATUS_HOSTS",
    );
    expect(res.body).not.toContain("eventsConnected");
  });

  it("refuses a request without Host, with two of them, or with a malformed one", async () => {
    const none = await rawRequest(f.port, "GET /status HTTP/1.0\r\n\r\n");
    expect([none.status, errorOf(none.body)]).toEqual([400, "a Host header is required"]);
    const two = await rawRequest(f.port, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n");
    expect([two.status, errorOf(two.body)]).toEqual([400, "more than one Host header"]);
    const bad = await getRaw(f.port, "/status", "a b");
    expect(bad.status).toBe(400);
  });
});

describe("the status server's last-resort guard", () => {
  it("answers 500 and logs once when reading the view throws", async () => {
    const before = f.logged.lines.length;
    f.view.loop = () => {
      throw new Error("loop view broken");
    };
    const res = await getRaw(f.port, "/healthz");
    expect(res.status).toBe(500);
    expect(errorOf(res.body)).toBe("loop view broken");
    const failed = f.logged.lines.slice(before).filter((l) => l["msg"] === "status request failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 50, err: { message: "loop view broken" }, target: "/healthz" });
  });

  it("answers 500 and logs once when an answer's promise rejects", async () => {
    const before = f.logged.lines.length;
    f.view.replicaStatuses = () => Promise.reject(new Error("socket gone"));
    const res = await getRaw(f.port, "/status");
    f.view.replicaStatuses = async () => [];
    expect([res.status, errorOf(res.body)]).toEqual([500, "socket gone"]);
    expect(f.logged.lines.slice(before).filter((l) => l["msg"] === "status request failed")).toHaveLength(1);
  });

  it("draws the timeline around records it cannot draw", async () => {
    const at = new Date(NOW - 60_000).toISOString();
    f.view.records = [
      { seq: 1, kind: "exploded", backend: null, triggeredAt: at, confirmedAt: at } as never,
      { seq: 2, kind: "reload", backend: null, triggeredAt: "not a time", confirmedAt: null } as never,
    ];
    const res = await getRaw(f.port, "/timeline.svg");
    expect(res.status).toBe(200);
    expect(res.body).toContain("no routing change in this window");
    expect((await getRaw(f.port, "/changes?since=0")).status).toBe(200);
  });

  it("answers a request its parser cannot read with a 400 of its own", async () => {
    const res = await rawRequest(f.port, "GET /a b c HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(res.status).toBe(400);
    expect(errorOf(res.body)).toMatch(/^bad request: HPE_/);
    const huge = await rawRequest(f.port, `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(huge.status).toBe(431);
  });

  it("answers other methods 405", async () => {
    const res = await rawRequest(f.port, "POST /status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    expect([res.status, res.headers["allow"]]).toEqual([405, "GET, HEAD"]);
  });
});

describe("the status server's query strings", () => {
  it.each([
    ["/changes?container=a&container=b", "container: given more than once"],
    ["/changes?since=99999999999999999999", /^since=99999999999999999999: an ISO time/],
    ["/changes?container=%", "query container=%: '%' must start a %XX escape"],
    ["/timeline.svg?minutes=1e3", "minutes=1e3: a whole number from 1 to 1440"],
    ["/timeline.svg?minutes=5&minutes=6", "minutes: given more than once"],
  ])("answers %s with a 400", async (target, error) => {
    const res = await getRaw(f.port, target);
    expect(res.status).toBe(400);
    expect(errorOf(res.body)).toMatch(error);
  });

  it("reads a percent-encoded container name, and one that is no UTF-8", async () => {
    expect((await getRaw(f.port, "/changes?container=%77eb_1")).status).toBe(200);
    expect((await getRaw(f.port, "/changes?container=%ff%fe")).status).toBe(200);
  });
});
