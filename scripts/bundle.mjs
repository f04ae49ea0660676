// Bundles the sidecar into one file for the image: Debian trixie's Node.js 20 runs it, and no npm
// install happens inside the container (the registry is not reachable from there).
// Also bundles the Docker API proxy (its own image), the benchmark (host) and its probes (run
// inside the sidecar and the proxy containers).
import { build } from "esbuild";

const node20 = { bundle: true, platform: "node", target: "node20", format: "cjs", logLevel: "warning" };
await Promise.all([
  build({
    ...node20,
    entryPoints: ["sidecar/main.ts"],
    outfile: "dist/sidecar.js",
    sourcemap: "inline",
    // Optional native helpers of ssh2 (SSH transport, unused: we talk to a unix socket).
    external: ["cpu-features", "*.node"],
  }),
  build({
    ...node20,
    entryPoints: ["sidecar/docker-proxy/main.ts"],
    outfile: "dist/docker-proxy.js",
    sourcemap: "inline",
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
