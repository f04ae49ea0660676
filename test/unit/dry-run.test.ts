import { describeChanges, type ConfigView } from "../../sidecar/render/dry-run";
import { parseServerLines } from "../../sidecar/render/server-lines";

const config = (configId: string, ...lines: string[]): ConfigView => ({
  configId,
  servers: parseServerLines(["backend webapp", ...lines.map((l) => `    server ${l}`)].join("\n")),
});

describe("describeChanges", () => {
  it.each([
    {
      case: "nothing changes",
      before: config("s1", "a 10.0.0.1:3000 id 1 check"),
      next: config("s1", "a 10.0.0.1:3000 id 1 check"),
      lines: ["no change"],
    },
    {
      case: "added, removed, weight and address changed: runtime only",
      before: config("s1", "a 10.0.0.1:3000 id 1 check", "b 10.0.0.2:3000 id 2 check", "c 10.0.0.3:3000 id 3 check"),
      next: config(
        "s1",
        "a 10.0.0.1:3000 id 1 check weight 10",
        "c 10.0.0.9:3001 id 3 check",
        "d 10.0.0.4:3000 id 4 check slowstart 30000ms",
      ),
      lines: [
        "~ weight webapp/a 1 -> 10",
        "- drain then remove webapp/b 10.0.0.2:3000",
        "~ address webapp/c 10.0.0.3:3000 -> 10.0.0.9:3001",
        "+ add webapp/d 10.0.0.4:3000 weight 1, slowstart 30000ms",
        "reload: no (runtime API only)",
      ],
    },
    {
      case: "a server held until it listens: added in maintenance, runtime only",
      before: config("s1", "a 10.0.0.1:3000 id 1 check"),
      next: {
        ...config("s1", "a 10.0.0.1:3000 id 1 check", "b 10.0.0.2:3000 id 2 check disabled"),
        held: new Set(["webapp/b"]),
      },
      lines: [
        "+ add webapp/b 10.0.0.2:3000 weight 1, in maintenance until it listens",
        "reload: no (runtime API only)",
      ],
    },
    {
      case: "maintenance on and off",
      before: config("s1", "a 10.0.0.1:3000 id 1 check", "b 10.0.0.2:3000 id 2 check disabled"),
      next: config("s1", "a 10.0.0.1:3000 id 1 check disabled", "b 10.0.0.2:3000 id 2 check"),
      lines: [
        "! maintenance on webapp/a (drained)",
        "! maintenance off webapp/b (routed again)",
        "reload: no (runtime API only)",
      ],
    },
    {
      case: "a structural change",
      before: config("s1", "a 10.0.0.1:3000 id 1 check"),
      next: config("s2", "a 10.0.0.1:3000 id 1 check"),
      lines: ["reload: yes (structure changed: config s1 -> s2)"],
    },
    {
      case: "a new id",
      before: config("s1", "a 10.0.0.1:3000 id 1 check"),
      next: config("s1", "a 10.0.0.1:3000 id 7 check"),
      lines: [
        "~ id webapp/a 1 -> 7 (takes a reload)",
        "reload: yes (a server's id changes; the runtime API cannot change one)",
      ],
    },
    {
      case: "nothing runs yet",
      before: null,
      next: config("s1", "a 10.0.0.1:3000 id 1 check"),
      lines: ["+ add webapp/a 10.0.0.1:3000 weight 1", "reload: yes (no config runs yet)"],
    },
  ])("$case", ({ before, next, lines }) => {
    expect(describeChanges(before, next)).toEqual(lines);
  });
});
