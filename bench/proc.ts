/** Pure: what the memory benchmark reads from /proc, the Dockerfiles and /usr/bin/time. */

/**
 * Resident memory now (VmRSS), its peak (VmHWM) and the process's own part of it (RssAnon: the
 * rest is mapped files, mostly node's own binary and libraries), in KiB, from /proc/<pid>/status.
 */
export function parseProcStatus(status: string): { rssKiB: number; peakRssKiB: number; anonKiB: number } {
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
    if (m === null) throw new Error(`no ${field} in /proc/<pid>/status`);
    return Number(m[1]);
  };
  return { rssKiB: kib("VmRSS"), peakRssKiB: kib("VmHWM"), anonKiB: kib("RssAnon") };
}

/**
 * The node flags of a Dockerfile's exec-form ENTRYPOINT (`["node", ...flags, "/app/x.js"]`):
 * the benchmark runs the bundles as the images do.
 */
export function entrypointNodeFlags(dockerfile: string): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
  if (m === null) throw new Error("no exec-form ENTRYPOINT");
  const argv = JSON.parse(m[1]!) as string[];
  if (argv[0] !== "node" || argv.length < 2) throw new Error(`ENTRYPOINT does not start node: ${m[1]}`);
  return argv.slice(1, -1);
}

/**
 * The environment a Dockerfile's `ENV` instructions set (`ENV K=V [K2=V2 ...]`, or the older
 * `ENV K V`): the benchmark gives the bundles the environment the images give them (for example
 * MALLOC_ARENA_MAX). Quoted values lose their quotes; a later ENV of the same name wins.
 */
export function dockerfileEnv(dockerfile: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of dockerfile.matchAll(/^ENV\s+(.+)$/gm)) {
    const body = m[1]!.trim();
    const pairs = [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|\S*)/g)];
    if (pairs.length === 0) {
      const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(body);
      if (legacy === null) throw new Error(`not an ENV instruction: ENV ${body}`);
      env[legacy[1]!] = legacy[2]!;
      continue;
    }
    for (const [, key, value] of pairs) env[key!] = value!.replace(/^(["'])(.*)\1$/, "$2");
  }
  return env;
}

/** `/usr/bin/time -f "%M %U %S"`'s last line: max RSS (KiB) and user + system CPU (ms). */
export function parseTimeOutput(stderr: string): { maxRssKiB: number; cpuMs: number } {
  const last = stderr.trim().split("\n").at(-1) ?? "";
  const m = /^(\d+) (\d+\.\d+) (\d+\.\d+)$/.exec(last);
  if (m === null) throw new Error(`not /usr/bin/time's output: ${JSON.stringify(last)}`);
  return { maxRssKiB: Number(m[1]), cpuMs: Math.round((Number(m[2]) + Number(m[3])) * 1000) };
}
