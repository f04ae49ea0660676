import {
  configIdOf,
  parseDescription,
  parseReloadCount,
  parseShowStat,
  parseWorkerPids,
  replyError,
} from "../../sidecar/haproxy/parse";

const SHOW_PROC = [
  "#<PID>          <type>          <reloads>       <uptime>        <version>",
  "1               master          3 [failed: 0]   0d00h01m00s     2.6.12",
  "# workers",
  "41              worker          0               0d00h00m01s     2.6.12",
  "37              worker          1               0d00h00m09s     2.6.12",
  "# programs",
  "",
].join("\n");

describe("parseWorkerPids", () => {
  it("reads current and old workers from show proc", () => {
    expect(parseWorkerPids(SHOW_PROC)).toEqual([41, 37]);
  });

  it("returns nothing for an answer without workers", () => {
    expect(parseWorkerPids("Unknown command.\n")).toEqual([]);
  });
});

describe("parseReloadCount", () => {
  it("reads the master's reload counter", () => {
    expect(parseReloadCount(SHOW_PROC)).toBe(3);
    expect(parseReloadCount("")).toBeNull();
  });
});

describe("parseDescription and configIdOf", () => {
  it("reads the description line of show info", () => {
    expect(parseDescription("Name: HAProxy\nnode: vm\ndescription: ha-sidecar-abc\nPid: 3\n")).toBe("ha-sidecar-abc");
    expect(parseDescription("Name: HAProxy\n")).toBeNull();
  });

  it("reads the config id, empty for a config that has none", () => {
    expect(configIdOf("description: ha-sidecar-abc\n")).toBe("abc");
    expect(configIdOf("description: something else\n")).toBe("");
    expect(configIdOf("Name: HAProxy\n")).toBe("");
  });
});

describe("parseShowStat", () => {
  it("keeps servers, not frontends or backends", () => {
    const csv =
      "# pxname,svname,qcur,status\nhttp,FRONTEND,,OPEN\nwebapp,s1,0,UP\nwebapp,s2,0,MAINT\nwebapp,BACKEND,0,UP\n";
    expect(parseShowStat(csv)).toEqual(
      new Map([
        ["webapp/s1", "UP"],
        ["webapp/s2", "MAINT"],
      ]),
    );
  });
});

describe("replyError", () => {
  it.each([
    ["No such server.\n", true],
    ["No such backend.\n", true],
    ["Unknown command. Please enter one of the following commands only :\n  help : this message\n", true],
    ["Permission denied\n", true],
    ["Require 'backend/server'.\n", true],
    ["\n", false],
    ["", false],
    ["New server registered.\n", false],
    ["Name: HAProxy\nVersion: 3.0.11\n", false],
    ["# pxname,svname\n", false],
  ])("%j is a refusal: %s", (reply, refused) => {
    expect(replyError(reply) !== null).toBe(refused);
  });
});
