/**
 * The sidecar as a process, against the real dockerd (a network and a container of the test's
 * own), with a stand-in `haproxy` that is slow to validate: a SIGTERM in the middle of a write
 * leaves a whole config and no temp file, and exits 0; a temp file a killed run left is removed
 * at start; a wrong LB_HAPROXY_BIN stops it at start; a misspelled setting is named.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";

jest.setTimeout(120_000);
const ROOT = path.resolve(__dirname, "../..");
const NET = "hs-it-process";
const LABEL = "ha-sidecar.test=1";
const dir = mkdtempSync("/tmp/hs-it-process-");
const sh = (cmd: string): string => {
  const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
async function until(what: string, fn: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the bundled sidecar with settings of the test's own; its output is collected. */
async function sidecar(
  extra: Record<string, string> = {},
): Promise<{ proc: ChildProcess; output: () => string; exit: Promise<number | null> }> {
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    DOCKER_HOST: "unix:///var/run/docker.sock",
    LB_NETWORK: NET,
    LB_TEMPLATE: path.join(ROOT, "templates/haproxy.cfg.hbs"),
    LB_OUTPUT: path.join(dir, "haproxy.cfg"),
    LB_RUNTIME_SOCKET: path.join(dir, "run/admin.sock"),
    LB_MASTER_SOCKET: path.join(dir, "run/master.sock"),
    LB_SERVER_STATE_FILE: path.join(dir, "server-state"),
    LB_HAPROXY_BIN: path.join(dir, "haproxy"),
    LB_SERF_RPC: "none",
    LB_READINESS: "none",
    LB_STATUS_ADDRESS: "127.0.0.1",
    LB_STATUS_PORT: String(await freePort()),
    LB_QUIET_MS: "0",
    ...extra,
  };
  let out = "";
  const proc = spawn("node", [path.join(ROOT, "dist/sidecar.js")], { env });
  proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return { proc, output: () => out, exit };
}

beforeAll(() => {
  spawnSync("bash", ["-c", `docker rm -f hs-it-process-web; docker network rm ${NET}`]);
  sh(`docker network create --label ${LABEL} ${NET}`);
  sh(
    `docker run -d --name hs-it-process-web --label ${LABEL} --label heig.lb.enable=true --network ${NET} ha-sidecar/webapp:latest`,
  );
  mkdirSync(path.join(dir, "run"));
  // A stand-in haproxy: says its version, and takes 3 s to validate (marking when it starts).
  writeFileSync(
    path.join(dir, "haproxy"),
    `#!/bin/sh\ncase "$1" in -v) echo "HAProxy version 3.0.11 (stand-in)";; -c) touch ${dir}/validating; sleep 3;; esac\n`,
  );
  chmodSync(path.join(dir, "haproxy"), 0o755);
});

afterAll(() => {
  spawnSync("bash", ["-c", `docker rm -f hs-it-process-web; docker network rm ${NET}`]);
  rmSync(dir, { recursive: true, force: true });
});

describe("the sidecar process", () => {
  it("on SIGTERM during a write: exits 0, no temp file left, the config whole (old or new)", async () => {
    writeFileSync(path.join(dir, "haproxy.cfg"), "# the old config\n");
    // Left by a run that was killed while it wrote.
    writeFileSync(path.join(dir, ".haproxy.cfg.1.1.dead.tmp"), "# half a config");
    const { proc, exit, output } = await sidecar();
    await until("the write's validation", () => existsSync(path.join(dir, "validating")));
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toHaveLength(1); // the one being validated
    proc.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    const config = readFileSync(path.join(dir, "haproxy.cfg"), "utf8");
    expect(
      config === "# the old config\n" ||
        (config.includes("description ha-sidecar-") && config.includes("hs-it-process-web")),
    ).toBe(true);
    expect(output()).toContain("removed config files an earlier run had staged and not committed");
    expect(output()).toContain("sidecar stopping");
  });

  it("stops at start, naming the setting, when LB_HAPROXY_BIN cannot run", async () => {
    const { exit, output } = await sidecar({ LB_HAPROXY_BIN: "/nonexistent/haproxy" });
    expect(await exit).toBe(2);
    expect(output()).toMatch(/LB_HAPROXY_BIN="\/nonexistent\/haproxy": cannot run/);
  });

  it("stops at start on a setting with a newline in it", async () => {
    const { exit, output } = await sidecar({ LB_OUTPUT: "/tmp/x\n    server evil 10.0.0.1:80" });
    expect(await exit).toBe(2);
    expect(output()).toContain("LB_OUTPUT=");
    expect(output()).toContain("must not contain control characters");
  });

  it("names a misspelled setting and the one it probably meant", async () => {
    const { proc, exit, output } = await sidecar({ LB_QUIET_M: "50" });
    await until("the warning", () => output().includes("unknown setting ignored"));
    proc.kill("SIGTERM");
    await exit;
    const line = output()
      .split("\n")
      .find((l) => l.includes("unknown setting ignored"))!;
    expect(JSON.parse(line)).toMatchObject({ name: "LB_QUIET_M", closest: "LB_QUIET_MS" });
  });

  it("`status PATH` writes a long answer whole to a pipe the reader made non-blocking (docker exec's)", async () => {
    const body = `${JSON.stringify({ records: Array.from({ length: 12_000 }, (_, seq) => ({ seq, kind: "server-added" })) })}\n`;
    expect(body.length).toBeGreaterThan(4 * 65_536);
    const server = await new Promise<http.Server>((resolve) => {
      const srv = http.createServer((_req, res) => res.end(body));
      srv.listen(0, "127.0.0.1", () => resolve(srv));
    });
    const port = (server.address() as net.AddressInfo).port;
    // The child's stdout: a pipe whose write end is O_NONBLOCK, read only after a while (as a
    // busy `docker exec` reader does); the child must not exit before it is all written.
    const py = [
      "import fcntl, os, subprocess, sys",
      "r, w = os.pipe()",
      "fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)",
      `p = subprocess.Popen(["node", "${path.join(ROOT, "dist/sidecar.js")}", "status", "/changes"], stdout=w, stderr=subprocess.DEVNULL, env={**os.environ, "LB_STATUS_PORT": "${port}", "LB_SERF_RPC": "none"})`,
      "os.close(w)",
      // Read only once the pipe is full (the child has more queued): polled with FIONREAD, no
      // sleep (a sleep is a guess, and libfaketime's clock-ahead tier breaks Python's).
      "import array, termios",
      "n = array.array('i', [0])",
      "for _ in range(50_000_000):",
      "    fcntl.ioctl(r, termios.FIONREAD, n)",
      "    if n[0] >= 65536 or p.poll() is not None: break",
      "out = b''",
      "while True:",
      "    chunk = os.read(r, 1 << 16)",
      "    if not chunk: break",
      "    out += chunk",
      "p.wait()",
      "sys.stdout.write(str(len(out)))",
    ].join("\n");
    // Not spawnSync: the status server answering is in this process.
    const py3 = spawn("python3", ["-c", py]);
    let out = "";
    let err = "";
    py3.stdout.on("data", (c: Buffer) => (out += c.toString()));
    py3.stderr.on("data", (c: Buffer) => (err += c.toString()));
    await new Promise((resolve) => py3.on("exit", resolve));
    server.close();
    expect(err).toBe("");
    expect(Number(out)).toBe(Buffer.byteLength(body));
  });
});
