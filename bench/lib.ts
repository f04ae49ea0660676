/** Small helpers of the benchmark: shell, waits, one HTTP request, percentiles. */
import { execFile, spawnSync } from "node:child_process";
import * as http from "node:http";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "..");

export const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
};

/** Runs a command, blocking: only before or after the load (a blocked loop fakes timeouts). */
export function sh(cmd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync("bash", ["-c", cmd], { cwd: ROOT, env, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Runs a command without blocking the event loop (what every step under load uses). */
export function run(cmd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", cmd], { cwd: ROOT, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} failed: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout),
    );
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until it says true; throws after `timeoutMs`. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await Promise.resolve()
      .then(fn)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface Answer {
  readonly status: number;
  /** x-backend-ip: which container answered. */
  readonly ip: string;
  readonly body: string;
}

/** One GET on a new connection to 127.0.0.1. */
export function getOnce(port: number, urlPath: string, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, ip: String(res.headers["x-backend-ip"] ?? ""), body }),
      );
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

export interface Percentiles {
  readonly n: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/** Nearest-rank percentiles, rounded to the millisecond. */
export function percentiles(xs: readonly number[]): Percentiles {
  if (xs.length === 0) return { n: 0, p50: null, p95: null, p99: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!);
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: Math.round(s[s.length - 1]!) };
}
