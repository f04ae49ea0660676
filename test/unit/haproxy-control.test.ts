import { parseWorkerPids } from "../../sidecar/apply/haproxy-control";
import { parseDescription } from "../../sidecar/apply/runtime-socket";

describe("parseWorkerPids", () => {
  it("reads current and old workers from show proc", () => {
    const out = [
      "#<PID>          <type>          <reloads>       <uptime>        <version>",
      "1               master          3 [failed: 0]   0d00h01m00s     2.6.12",
      "# workers",
      "41              worker          0               0d00h00m01s     2.6.12",
      "37              worker          1               0d00h00m09s     2.6.12",
      "# programs",
      "",
    ].join("\n");
    expect(parseWorkerPids(out)).toEqual([41, 37]);
  });

  it("returns nothing for an answer without workers", () => {
    expect(parseWorkerPids("Unknown command.\n")).toEqual([]);
  });
});

describe("parseDescription", () => {
  it("reads the description line of show info", () => {
    expect(parseDescription("Name: HAProxy\nnode: vm\ndescription: ha-sidecar-abc\nPid: 3\n")).toBe("ha-sidecar-abc");
    expect(parseDescription("Name: HAProxy\n")).toBeNull();
  });
});
