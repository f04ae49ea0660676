import { readFileSync } from "node:fs";
import * as path from "node:path";
import { dockerfileEnv, entrypointNodeFlags, parseProcStatus, parseTimeOutput } from "../../bench/proc";

describe("the memory benchmark's readers", () => {
  it("reads VmRSS, VmHWM and RssAnon from /proc/<pid>/status", () => {
    const status =
      "Name:\tnode\nVmPeak:\t 1074000 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   50123 kB\nRssAnon:\t   15000 kB\nRssFile:\t   35123 kB\n";
    expect(parseProcStatus(status)).toEqual({ rssKiB: 50123, peakRssKiB: 61234, anonKiB: 15000 });
    expect(() => parseProcStatus("Name:\tnode\n")).toThrow("no VmRSS");
  });

  it("takes the node flags of an exec-form ENTRYPOINT", () => {
    expect(entrypointNodeFlags('FROM x\nENTRYPOINT ["node", "/app/sidecar.js"]\n')).toEqual([]);
    expect(entrypointNodeFlags('ENTRYPOINT ["node", "--a=1", "--b", "/app/x.js"]')).toEqual(["--a=1", "--b"]);
    expect(() => entrypointNodeFlags('ENTRYPOINT ["bash", "/x"]')).toThrow("does not start node");
    expect(() => entrypointNodeFlags("ENTRYPOINT node /x")).toThrow("no exec-form ENTRYPOINT");
  });

  it("takes the environment of a Dockerfile's ENV lines", () => {
    const file = 'FROM x\nENV A=1 B="two words"\nRUN echo ENV=no\nENV C 3 4\nENV A=5\n';
    expect(dockerfileEnv(file)).toEqual({ A: "5", B: "two words", C: "3 4" });
    expect(dockerfileEnv("FROM x\n")).toEqual({});
  });

  it("reads /usr/bin/time's max RSS and CPU", () => {
    expect(parseTimeOutput("some output\n4312 0.01 0.00\n")).toEqual({ maxRssKiB: 4312, cpuMs: 10 });
    expect(() => parseTimeOutput("Command exited with non-zero status 1\n")).toThrow("not /usr/bin/time's output");
  });
});

describe("the images' node", () => {
  const dockerfile = (name: string): string =>
    readFileSync(path.resolve(__dirname, "../../compose", name, "Dockerfile"), "utf8");

  // What make memory measures them with, and what keeps them within their containers' limits.
  it.each([
    ["sidecar", 96, ["--single-threaded-gc", "--no-opt"]],
    ["docker-proxy", 40, ["--no-opt"]],
  ])("%s: small semi-spaces and an old-space limit below the container's", (name, oldSpaceMiB, more) => {
    expect(entrypointNodeFlags(dockerfile(name))).toEqual([
      "--max-semi-space-size=1",
      `--max-old-space-size=${oldSpaceMiB}`,
      ...more,
    ]);
  });

  it("the sidecar's glibc keeps two malloc arenas (make memory runs its bundle with it too)", () => {
    expect(dockerfileEnv(dockerfile("sidecar"))).toMatchObject({ MALLOC_ARENA_MAX: "2" });
  });
});
