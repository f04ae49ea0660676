// Bundles the sidecar into one file for the image: Debian's Node.js 18 runs it, and no npm
// install happens inside the container (the registry is not reachable from there).
// Also bundles the benchmark (host) and its render probe (runs inside the sidecar container).
import { build } from "esbuild";

const node18 = { bundle: true, platform: "node", target: "node18", format: "cjs", logLevel: "warning" };
await Promise.all([
  build({
    ...node18,
    entryPoints: ["sidecar/main.ts"],
    outfile: "dist/sidecar.js",
    sourcemap: "inline",
    // Optional native helpers of ssh2 (SSH transport, unused: we talk to a unix socket).
    external: ["cpu-features", "*.node"],
  }),
  build({ ...node18, entryPoints: ["bench/render-bench.ts"], outfile: "dist/render-bench.js" }),
  // On the host, with node_modules at hand: autocannon loads its workers from its own files.
  build({ ...node18, entryPoints: ["bench/bench.ts"], outfile: "dist/bench.js", packages: "external" }),
]);
console.log("bundled dist/sidecar.js, dist/bench.js, dist/render-bench.js");
