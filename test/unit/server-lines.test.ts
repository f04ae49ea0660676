import * as v8 from "node:v8";
import * as vm from "node:vm";
import { parseServerLines, serverSignature, stripServerLines } from "../../sidecar/render/server-lines";

const CONFIG = `global
    description ha-sidecar-x
defaults
    mode http
    default-server inter 1s rise 2
frontend http
    bind :80
    default_backend webapp
backend webapp
    balance roundrobin
    default-server fall 3
    server w1 10.0.0.1:3000 check
    server w2 10.0.0.2:3001 check weight 9 # a comment
listen stats
    bind :1936
defaults other
    default-server inter 5s
backend api
    cookie SERVERID insert indirect nocache
    server a1 10.0.1.1:8080 check cookie a1
`;

describe("parseServerLines", () => {
  it("reads every server with the default-server options that apply to it, in HAProxy's order", () => {
    const servers = parseServerLines(CONFIG);
    expect([...servers.keys()]).toEqual(["webapp/w1", "webapp/w2", "api/a1"]);
    expect(servers.get("webapp/w1")).toEqual({
      backend: "webapp",
      name: "w1",
      address: "10.0.0.1",
      port: 3000,
      weight: 1,
      id: null,
      options: ["inter", "1s", "rise", "2", "fall", "3", "check"],
    });
    expect(servers.get("webapp/w2")).toMatchObject({
      port: 3001,
      weight: 9,
      options: ["inter", "1s", "rise", "2", "fall", "3", "check", "weight", "9"],
    });
    // A later defaults section replaces the earlier one's default-server.
    expect(servers.get("api/a1")).toMatchObject({ options: ["inter", "5s", "check", "cookie", "a1"] });
  });

  it("reads a server's id, and none from a line without one", () => {
    const servers = parseServerLines(
      "backend b\n  server s1 10.0.0.1:80 id 70039 check\n  server s2 10.0.0.2:80 check\n",
    );
    expect([servers.get("b/s1")!.id, servers.get("b/s2")!.id]).toEqual([70039, null]);
  });

  it("finds nothing in a config without servers", () => {
    expect(parseServerLines("global\nfrontend f\n  bind :80\n").size).toBe(0);
  });
});

describe("parseServerLines, again and again (the renders of a pass after another)", () => {
  /** A render of 1,000 servers in 70 KB; `round` replaces five of them (the churn of a pass). */
  const render = (round: number): string =>
    CONFIG +
    // A backend name and a default-server option of 13 characters or more: V8 cuts such words
    // out of a text as slices of it.
    `# ${"filler ".repeat(2000)}\nbackend compose_webapp_backend\n    default-server ca-file /etc/ssl/certs/ca.crt\n` +
    Array.from(
      { length: 1000 },
      (_, i) => `    server web_${i < 995 ? i : i + 5 * round} 10.0.${i >> 8}.${i & 255}:3000 id ${i + 1} check`,
    ).join("\n");

  it("reads a line it read before as it did the first time", () => {
    const first = parseServerLines(render(0));
    const again = parseServerLines(render(0));
    expect([...again]).toEqual([...first]);
    const next = parseServerLines(render(1));
    expect(next.size).toBe(first.size);
    expect(next.get("compose_webapp_backend/web_995")).toBeUndefined();
    expect(next.get("compose_webapp_backend/web_1000")).toMatchObject({
      address: "10.0.3.227",
      id: 996,
      options: ["inter", "5s", "ca-file", "/etc/ssl/certs/ca.crt", "id", "996", "check"],
    });
  });

  it("keeps no render's text alive through the lines it remembers", () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    let last = parseServerLines(render(0));
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let round = 1; round <= 200; round++) last = parseServerLines(render(round));
    gc();
    // 200 texts of 70 KB are 14 MB (28 MB as V8 keeps them); what is remembered is 1,000 lines.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(8 * 1024 * 1024);
    expect(last.size).toBe(1000 + 3); // and CONFIG's own three
  });
});

describe("stripServerLines and serverSignature", () => {
  it("strips only server lines", () => {
    const stripped = stripServerLines(CONFIG);
    expect(stripped).not.toMatch(/^\s*server /m);
    expect(stripped).toContain("default-server fall 3");
  });

  it("knows a server line by its first word alone: blanks before it, a tab or a comment after it", () => {
    const text = [
      "backend b",
      "\t server\ts1 10.0.0.1:80",
      "server# a comment where its name would be",
      "    servers-of-another-kind 1",
      "    # server s2 10.0.0.2:80",
      "    server",
      "    no-server s3",
      "",
    ].join("\n");
    expect(stripServerLines(text).split("\n")).toEqual([
      "backend b",
      "    servers-of-another-kind 1",
      "    # server s2 10.0.0.2:80",
      "    no-server s3",
      "",
    ]);
    expect([...parseServerLines(text).keys()]).toEqual(["b/s1"]);
  });

  it("gives servers of one backend the same signature whatever their names, ids, addresses and weights", () => {
    const s = parseServerLines(CONFIG);
    expect(serverSignature(s.get("webapp/w1")!)).toBe(serverSignature(s.get("webapp/w2")!));
    const withIds = parseServerLines(
      "backend b\n  server s1 10.0.0.1:80 id 70039 check\n  server s2 10.0.0.2:80 id 9 check\n",
    );
    expect(serverSignature(withIds.get("b/s1")!)).toBe("b check");
    expect(serverSignature(withIds.get("b/s2")!)).toBe("b check");
    expect(serverSignature(s.get("api/a1")!)).toBe("api inter 5s check cookie <name>");
  });
});
