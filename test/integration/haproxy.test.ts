/**
 * The HAProxy adapters against a real HAProxy (the `ha` image): the runtime client's commands and
 * its recognition of HAProxy's refusals, draining through the master CLI, and `haproxy -c`
 * telling a config HAProxy refuses from a checker that cannot run.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { HaproxyCheckValidator } from "../../sidecar/apply/haproxy-check";
import { addServerCommands, readyCommands } from "../../sidecar/apply/runtime-plan";
import type { ServerLine } from "../../sidecar/render/server-lines";
import { parseWorkerPids } from "../../sidecar/haproxy/parse";
import { RuntimeCommandError, SocketRuntimeClient } from "../../sidecar/haproxy/runtime-client";

jest.setTimeout(120_000);
const NAME = "hs-it-haproxy";
const IMAGE = "ha-sidecar/ha:latest";
const dir = mkdtempSync("/tmp/hs-it-haproxy-");
const sh = (cmd: string): string => {
  const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const CONFIG = `global
    description ha-sidecar-abc123
    stats socket /run/hs/admin.sock mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend http
    bind :8080
    default_backend webapp
backend webapp
    balance roundrobin
    server s1 127.0.0.1:9
    server s2 127.0.0.1:10
`;
const client = new SocketRuntimeClient(path.join(dir, "admin.sock"), path.join(dir, "master.sock"));

async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

beforeAll(async () => {
  spawnSync("docker", ["rm", "-f", NAME]);
  writeFileSync(path.join(dir, "h.cfg"), CONFIG);
  sh(
    `docker run -d --name ${NAME} --label ha-sidecar.test=1 --network none -v ${dir}:/run/hs ` +
      `--entrypoint haproxy ${IMAGE} -W -db -S /run/hs/master.sock -f /run/hs/h.cfg`,
  );
  await eventually(async () => expect(await client.runningConfigId()).toBe("abc123"));
  // The master's CLI too: it can still refuse a connect (ECONNREFUSED) after the worker's own
  // socket answers. Seen in a fresh CI run with one core kept busy, where both drain tests failed
  // on it.
  await eventually(async () => expect(parseWorkerPids(await client.masterCommand("show proc"))).toHaveLength(1));
});

afterAll(() => {
  spawnSync("docker", ["rm", "-f", NAME]);
  spawnSync("rm", ["-rf", dir]);
});

describe("SocketRuntimeClient against a real HAProxy", () => {
  it("reads the config id and the server statuses of the serving worker", async () => {
    expect(await client.runningConfigId()).toBe("abc123");
    expect(await client.serverStatuses()).toEqual(
      new Map([
        ["webapp/s1", "no check"],
        ["webapp/s2", "no check"],
      ]),
    );
  });

  it("raises HAProxy's own message when it refuses a command", async () => {
    await expect(client.command("set server webapp/nosuch state maint")).rejects.toThrow(
      expect.objectContaining({ name: "RuntimeCommandError", reply: expect.stringContaining("No such server") }),
    );
    await expect(client.command("no such command")).rejects.toBeInstanceOf(RuntimeCommandError);
  });

  it("drains a server in every worker through the master CLI, and tolerates one a worker never had", async () => {
    await client.drainServers([
      { backend: "webapp", server: "s1" },
      { backend: "webapp", server: "gone" },
    ]);
    expect((await client.serverStatuses())?.get("webapp/s1")).toBe("MAINT");
    await client.command("set server webapp/s1 state ready");
  });

  it("takes a burst of drains at once (a hundred containers stopped together) without a refused connect", async () => {
    const names = ["s1", "s2", ...Array.from({ length: 298 }, (_, i) => `gone${i}`)];
    // Each stop asks on its own, all in the same moment: the master socket's backlog is short.
    await Promise.all(names.map((server) => client.drainServers([{ backend: "webapp", server }])));
    expect((await client.serverStatuses())?.get("webapp/s1")).toBe("MAINT");
    expect((await client.serverStatuses())?.get("webapp/s2")).toBe("MAINT");
    await client.command("set server webapp/s1 state ready");
    await client.command("set server webapp/s2 state ready");
  });

  it("holds a server added before it listens in maintenance, its checks not run, and routes it at once when readied", async () => {
    // HAProxy's own frontend (:8080) stands for an app that listens.
    const held = (name: string, options: string[]): ServerLine => ({
      backend: "webapp",
      name,
      address: "127.0.0.1",
      port: 8080,
      options: ["inter", "100ms", "rise", "2", "check", ...options, "disabled"],
      weight: 1,
      id: null,
    });
    const lines = [held("h1", []), held("h2", ["slowstart", "60000ms"])];
    for (const line of lines) {
      const [add, ...rest] = addServerCommands(line);
      await client.command(add!.command, add!.success);
      await client.commands(rest);
    }
    const statuses = async (): Promise<Array<string | undefined>> => {
      const all = await client.serverStatuses();
      return ["webapp/h1", "webapp/h2"].map((k) => all?.get(k));
    };
    expect(await statuses()).toEqual(["MAINT", "MAINT"]);
    // Readied: UP in the same moment, not after `rise` checks (the slow starter through DOWN).
    // `UP 1/3`: UP, a failed check from going down, as any server just added.
    await client.commands(lines.flatMap(readyCommands));
    expect(await statuses()).toEqual([expect.stringMatching(/^UP\b/), expect.stringMatching(/^UP\b/)]);
    for (const name of ["h1", "h2"]) {
      await client.command(`set server webapp/${name} state maint`);
      await client.command(`del server webapp/${name}`, /Server deleted/);
    }
  });

  it("dumps the server state that the next worker loads", async () => {
    const dump = await client.serverStateDump();
    expect(dump).toMatch(/^1\n# be_id be_name srv_id srv_name srv_addr/);
    expect(dump).toMatch(/ webapp \d+ s1 127\.0\.0\.1 /);
  });

  it("returns null, not an error, for the config id when the socket is gone", async () => {
    const missing = new SocketRuntimeClient(path.join(dir, "nothing.sock"), path.join(dir, "nothing.sock"));
    expect(await missing.runningConfigId()).toBeNull();
    await expect(missing.command("show info")).rejects.toThrow(/ENOENT/);
  });
});

describe("HaproxyCheckValidator with the real haproxy -c", () => {
  // The same HAProxy as `ha`, run through the image: the host has none.
  const bin = path.join(dir, "haproxy");
  writeFileSync(
    bin,
    `#!/bin/sh\nexec docker run --rm --network none -v ${dir}:${dir}:ro --entrypoint haproxy ${IMAGE} "$@"\n`,
  );
  chmodSync(bin, 0o755);
  const validator = new HaproxyCheckValidator(bin);

  it("accepts a valid config", async () => {
    writeFileSync(path.join(dir, "ok.cfg"), CONFIG);
    await expect(validator.validate(path.join(dir, "ok.cfg"))).resolves.toEqual({ ok: true });
  });

  it("rejects a config HAProxy refuses, with HAProxy's ALERT naming the line", async () => {
    writeFileSync(
      path.join(dir, "bad.cfg"),
      CONFIG.replace("    balance roundrobin", "    balance roundrobin\n    no-such-directive on"),
    );
    const verdict = await validator.validate(path.join(dir, "bad.cfg"));
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.message).toMatch(/\[ALERT\].*bad\.cfg:\d+.*no-such-directive/);
  });

  it("fails (to be retried), never rejects, when the checker cannot run", async () => {
    await expect(
      new HaproxyCheckValidator(path.join(dir, "no-haproxy-here")).validate(path.join(dir, "ok.cfg")),
    ).rejects.toThrow(/ENOENT/);
  });
});
