import { keepServerState } from "../../sidecar/apply/server-state";
import { parseServerLines } from "../../sidecar/render/server-lines";

const HEADER =
  "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port";
const dump = [
  "1",
  HEADER,
  "3 webapp 1 kept 10.0.0.1 2 0 1 1 8 15 3 3 6 0 0 0 - 3000 - 0 0 - - 0",
  "3 webapp 2 drained 10.0.0.2 2 1 1 1 8 15 3 3 6 0 0 0 - 3000 - 0 0 - - 0",
  "3 webapp 3 moved 10.0.0.3 0 0 1 1 8 15 3 3 6 0 0 0 - 3000 - 0 0 - - 0",
  "3 webapp 4 gone 10.0.0.4 2 0 1 1 8 15 3 3 6 0 0 0 - 3000 - 0 0 - - 0",
  "",
].join("\n");
const wanted = parseServerLines(
  "backend webapp\n  server kept 10.0.0.1:3000 check\n  server drained 10.0.0.2:3000 check\n  server moved 10.0.0.99:3000 check\n",
);

describe("keepServerState", () => {
  it("keeps the state of servers the new config keeps where they were, without a maintenance the sidecar set", () => {
    const kept = keepServerState(dump, wanted).split("\n");
    expect(kept.slice(0, 2)).toEqual(["1", HEADER]);
    expect(kept.filter((l) => /^\d+ \w+ \d+ /.test(l)).map((l) => l.split(" ").slice(3, 7).join(" "))).toEqual([
      "kept 10.0.0.1 2 0",
      "drained 10.0.0.2 2 0",
    ]);
  });

  it("keeps the maintenance of a server the new config keeps disabled (held until it listens, or an operator's)", () => {
    const held = [
      "1",
      HEADER,
      "3 webapp 1 held 10.0.0.1 0 5 1 1 8 15 3 3 6 0 0 0 - 3000 - 0 0 - - 0",
      "3 webapp 2 drained 10.0.0.2 2 9 1 1 8 15 3 3 6 0 0 0 - 3000 - 0 0 - - 0",
      "",
    ].join("\n");
    const lines = parseServerLines(
      "backend webapp\n  server held 10.0.0.1:3000 check disabled\n  server drained 10.0.0.2:3000 check disabled\n",
    );
    const kept = keepServerState(held, lines).split("\n");
    // 5: maintenance from the config and forced (add server … disabled); a forced drain is cleared.
    expect(kept.filter((l) => /^\d+ \w+ \d+ /.test(l)).map((l) => l.split(" ").slice(3, 7).join(" "))).toEqual([
      "held 10.0.0.1 0 5",
      "drained 10.0.0.2 2 1",
    ]);
  });

  it("drops the state of a server that ran under another id than the new config gives it", () => {
    const withIds = parseServerLines(
      "backend webapp\n  server kept 10.0.0.1:3000 id 1 check\n  server drained 10.0.0.2:3000 id 70039 check\n",
    );
    const kept = keepServerState(dump, withIds).split("\n");
    expect(kept.filter((l) => /^\d+ \w+ \d+ /.test(l)).map((l) => l.split(" ")[3])).toEqual(["kept"]);
  });

  it("leaves an answer without a header alone", () => {
    expect(keepServerState("1\n", wanted)).toBe("1\n");
  });
});
