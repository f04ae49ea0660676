// Bundles the sidecar into one file for the image: Debian trixie's Node.js 20 runs it, and no npm
// install happens inside the container (the registry is not reachable from there).
// Also bundles the Docker API proxy (its own image), the benchmarks (host) and the render
// benchmark (run inside the sidecar container).
// No source maps: nothing reads them (node runs without --enable-source-maps), and an inline one
// was 70 % of the file, held in memory as source text (about 38 MiB of RSS). The bundles are not
// minified, so a stack trace still points at readable code, each module under a comment naming
// its source file.
// `node scripts/bundle.mjs [DIR]`: into DIR instead of dist/ (the unit tests check the bundles).
import { build } from "esbuild";
import options from "./bundle-options.js";

const { node20, unusedTransports } = options;
const out = process.argv[2] ?? "dist";
await Promise.all([
  build({
    ...node20,
    entryPoints: ["sidecar/main.ts"],
    outfile: `${out}/sidecar.js`,
    plugins: [unusedTransports],
  }),
  build({
    ...node20,
    entryPoints: ["sidecar/docker-proxy/main.ts"],
    outfile: `${out}/docker-proxy.js`,
  }),
  build({ ...node20, entryPoints: ["bench/render-bench.ts"], outfile: `${out}/render-bench.js` }),
  // On the host, with node_modules at hand: autocannon loads its workers from its own files.
  build({ ...node20, entryPoints: ["bench/bench.ts"], outfile: `${out}/bench.js`, packages: "external" }),
  build({ ...node20, entryPoints: ["bench/soak.ts"], outfile: `${out}/soak.js`, packages: "external" }),
  build({ ...node20, entryPoints: ["bench/swarm-bench.ts"], outfile: `${out}/swarm-bench.js`, packages: "external" }),
  build({ ...node20, entryPoints: ["bench/memory.ts"], outfile: `${out}/memory.js`, packages: "external" }),
  build({ ...node20, entryPoints: ["bench/scale.ts"], outfile: `${out}/scale.js`, packages: "external" }),
  // Runs inside a container (the webapp image's node): no package outside node's own.
  build({ ...node20, entryPoints: ["bench/fleet.ts"], outfile: `${out}/fleet.js` }),
]);
console.log(
  `bundled sidecar.js, docker-proxy.js, bench.js, soak.js, swarm-bench.js, render-bench.js, memory.js, scale.js, fleet.js into ${out}/`,
);
