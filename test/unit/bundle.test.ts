/**
 * The bundles the images run, built by scripts/bundle.mjs (the build of record) into a directory
 * of the test's own: their text stays one byte per character for V8.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const dir = mkdtempSync(path.join(os.tmpdir(), "hs-bundle-"));

beforeAll(() => {
  execFileSync("node", [path.join(ROOT, "scripts/bundle.mjs"), dir], { cwd: ROOT, stdio: "pipe" });
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the bundles", () => {
  it.each(["sidecar.js", "docker-proxy.js"])(
    "%s is Latin-1 text: V8 keeps its source one byte per character",
    (file) => {
      // One character above U+00FF (a "…" in a comment esbuild kept) and V8 holds the whole
      // source as a two-byte string. Write it in ASCII where this names the line.
      const wide = readFileSync(path.join(dir, file), "utf8")
        .split("\n")
        .flatMap((line, i) =>
          [...line].some((c) => c.codePointAt(0)! > 0xff) ? [`line ${i + 1}: ${line.trim().slice(0, 120)}`] : [],
        );
      expect(wide).toEqual([]);
    },
  );
});
