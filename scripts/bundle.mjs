// Bundles the sidecar into one file for the image: Debian trixie's Node.js 20 runs it, and no npm
// install happens inside the container (the registry is not reachable from there).
// Also bundles the Docker API proxy (its own image), the benchmarks (host) and the render
// benchmark (run inside the sidecar container).
// No source maps: nothing reads them (node runs without --enable-source-maps), and an inline one
// was 70 % of the file, held in memory as source text (about 38 MiB of RSS). The bundles are not
// minified, so a stack trace still points at readable code, each module under a comment naming
// its source file.
import { build } from "esbuild";

const node20 = { bundle: true, platform: "node", target: "node20", format: "cjs", logLevel: "warning" };
await Promise.all([
  build({
    ...node20,
    entryPoints: ["sidecar/main.ts"],
    outfile: "dist/sidecar.js",
    // Optional native helpers of ssh2 (SSH transport, unused: we talk to a unix socket).
    external: ["cpu-features", "*.node"],
  }),
  build({
    ...node20,
    entryPoints: ["sidecar/docker-proxy/main.ts"],
    outfile: "dist/docker-proxy.js",
  }),
  build({ ...node20, entryPoints: ["bench/render-bench.ts"], outfile: "dist/render-bench.js" }),
  // On the host, with node_modules at hand: autocannon loads its workers from its own files.
  build({ ...node20, entryPoints: ["bench/bench.ts"], outfile: "dist/bench.js", packages: "external" }),
  build({ ...node20, entryPoints: ["bench/soak.ts"], outfile: "dist/soak.js", packages: "external" }),
  build({ ...node20, entryPoints: ["bench/swarm-bench.ts"], outfile: "dist/swarm-bench.js", packages: "external" }),
  build({ ...node20, entryPoints: ["bench/memory.ts"], outfile: "dist/memory.js", packages: "external" }),
]);
console.log(
  "bundled dist/sidecar.js, dist/docker-proxy.js, dist/bench.js, dist/soak.js, dist/swarm-bench.js, dist/render-bench.js, dist/memory.js",
);
