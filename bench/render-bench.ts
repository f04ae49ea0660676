/**
 * Runs inside the sidecar container (Debian's Node and HAProxy, as in production): times the
 * pure render and `haproxy -c` for 10 … 5000 backends. Prints one JSON object.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { buildDesiredState } from "../sidecar/model/desired-state";
import type { BackendSnapshot } from "../sidecar/model/types";
import { compileTemplate, renderConfig } from "../sidecar/render/render";

const templatePath = process.argv[2] ?? "/app/templates/haproxy.cfg.hbs";
const source = readFileSync(templatePath, "utf8");
const template = compileTemplate(source);
const paths = { runtimeSocket: "/tmp/bench.sock", serverStateFile: "/tmp/bench-state" };

function snapshots(n: number): BackendSnapshot[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i.toString(16).padStart(64, "0"),
    name: `compose_webapp_${i + 1}`,
    group: "webapp",
    running: true,
    paused: false,
    health: "none" as const,
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    leaving: false,
    oneOff: false,
    labels: { "heig.lb.enable": "true" },
  }));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

const results = [10, 100, 1000, 5000].map((n) => {
  const snaps = snapshots(n);
  const renders: number[] = [];
  let text = "";
  for (let i = 0; i < 21; i++) {
    const t0 = process.hrtime.bigint();
    const state = buildDesiredState(snaps, {
      labelPrefix: "heig.lb",
      defaultService: "webapp",
      draining: new Set(),
    }).state;
    text = renderConfig(template, state, paths).text;
    renders.push(ms(t0));
  }
  const file = `/tmp/bench-${n}.cfg`;
  writeFileSync(file, text);
  const validates: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync("haproxy", ["-c", "-q", "-f", file], { stdio: "ignore" });
    validates.push(ms(t0));
  }
  return {
    backends: n,
    bytes: text.length,
    renderMsMedian: median(renders),
    renderMsMax: Math.max(...renders.slice(1)),
    validateMsMedian: median(validates),
  };
});
process.stdout.write(`${JSON.stringify(results)}\n`);
