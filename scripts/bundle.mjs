// Bundles the sidecar into one file for the image: Debian's Node.js 18 runs it, and no npm
// install happens inside the container (the registry is not reachable from there).
import { build } from "esbuild";

await build({
  entryPoints: ["sidecar/main.ts"],
  outfile: "dist/sidecar.js",
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  sourcemap: "inline",
  // Optional native helpers of ssh2 (SSH transport, unused: we talk to a unix socket).
  external: ["cpu-features", "*.node"],
  logLevel: "warning",
});
console.log("bundled sidecar/main.ts -> dist/sidecar.js");
