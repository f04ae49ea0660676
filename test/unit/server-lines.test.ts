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

describe("stripServerLines and serverSignature", () => {
  it("strips only server lines", () => {
    const stripped = stripServerLines(CONFIG);
    expect(stripped).not.toMatch(/^\s*server /m);
    expect(stripped).toContain("default-server fall 3");
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
