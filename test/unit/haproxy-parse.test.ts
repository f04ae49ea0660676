import {
  configIdOf,
  parseDescription,
  parseReloadCount,
  parseServersState,
  parseShowStat,
  parseWorkerPid,
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

describe("parseWorkerPid", () => {
  it("reads the serving worker's pid from show info, null without one", () => {
    expect(parseWorkerPid("Name: HAProxy\nVersion: 3.0.11\nPid: 41\nUptime_sec: 3\n")).toBe(41);
    expect(parseWorkerPid("Name: HAProxy\n")).toBeNull();
  });
});

describe("parseServersState", () => {
  const HEADER =
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port";
  it("reads each server: id, address, port, weight, maintenance and drain", () => {
    const dump = [
      "1",
      HEADER,
      "3 webapp 70039 w1 10.0.0.1 2 0 1 1 8 15 3 3 6 0 0 1 - 3000 - 0 0 - - 0",
      "3 webapp 2 w2 10.0.0.2 0 1 7 7 8 15 3 3 6 0 0 0 - 3001 - 0 0 - - 0",
      "3 webapp 3 w3 10.0.0.3 2 8 1 1 8 15 3 3 6 0 0 0 - 3000 - 0 0 - - 0",
      "",
    ].join("\n");
    expect([...parseServersState(dump).values()]).toEqual([
      {
        backend: "webapp",
        name: "w1",
        id: 70039,
        address: "10.0.0.1",
        port: 3000,
        weight: 1,
        maint: false,
        drain: false,
      },
      { backend: "webapp", name: "w2", id: 2, address: "10.0.0.2", port: 3001, weight: 7, maint: true, drain: false },
      { backend: "webapp", name: "w3", id: 3, address: "10.0.0.3", port: 3000, weight: 1, maint: false, drain: true },
    ]);
  });

  it("reads a line whose columns are not one space apart as one that is", () => {
    const line = "3 webapp 2 w2 10.0.0.2 0 1 7 7 8 15 3 3 6 0 0 0 - 3001 - 0 0 - - 0";
    const spaced = `${line.replaceAll(" ", " \t ")} \r`;
    expect(parseServersState(`1\n${HEADER}\n${spaced}\n`)).toEqual(parseServersState(`1\n${HEADER}\n${line}\n`));
    expect(parseServersState(`1\n${HEADER}\n${line}\n`).get("webapp/w2")).toMatchObject({ port: 3001, weight: 7 });
  });

  it("reads a line cut short as far as it goes", () => {
    expect(parseServersState(`1\n${HEADER}\n3 webapp 2 w2 10.0.0.2 0 1\n`).get("webapp/w2")).toMatchObject({
      address: "10.0.0.2",
      maint: true,
      port: Number.NaN,
    });
  });

  it("finds its header on any line, the first too, and reads nothing without one", () => {
    const line = "3 webapp 2 w2 10.0.0.2 0 1 7 7 8 15 3 3 6 0 0 0 - 3001 - 0 0 - - 0";
    expect(parseServersState(`${HEADER}\n${line}`).get("webapp/w2")).toMatchObject({ id: 2, port: 3001 });
    expect(parseServersState(`1\n${HEADER}\n${line}`).get("webapp/w2")).toMatchObject({ id: 2, port: 3001 });
    expect(parseServersState(`1\n${line}\n`).size).toBe(0);
    // Lines that are not a server's: a comment, a blank line, a line that does not start with a number and a space.
    expect(parseServersState(`1\n${HEADER}\n# 3 webapp\n\n x3 webapp 2 w2\n3\n`).size).toBe(0);
  });

  it("gives no id when the answer has no srv_id column", () => {
    const dump = "1\n# be_id be_name srv_name srv_addr srv_port\n3 webapp w1 10.0.0.1 3000\n";
    expect(parseServersState(dump).get("webapp/w1")).toMatchObject({ id: null, port: 3000 });
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

  it("reads the status out of a whole line, whatever follows it (text with commas included)", () => {
    const header =
      "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,check_desc,last_chk";
    const csv = `${header}\nwebapp,s1,0,0,1,2,,40,0,0,,0,,0,0,0,0,DOWN 1/2,1,Layer4 connection problem,"Connection refused, at step 1"\n`;
    expect(parseShowStat(csv)).toEqual(new Map([["webapp/s1", "DOWN 1/2"]]));
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
