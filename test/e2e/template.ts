import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/** The template the e2e stack's sidecar reads (compose.test.yml mounts it), from the repository root. */
export const TEST_TEMPLATE = "test-output/templates/haproxy.cfg.hbs";

const root = path.resolve(__dirname, "../..");
const file = path.join(root, TEST_TEMPLATE);

/** Rewrites the sidecar's template with `edit`; returns a function that puts the original back. */
export function editTemplate(edit: (text: string) => string): () => void {
  const original = readFileSync(file, "utf8");
  writeFileSync(file, edit(original));
  return () => writeFileSync(file, original);
}

/** Puts the repository's template back. */
export function resetTemplate(): void {
  copyFileSync(path.join(root, "templates/haproxy.cfg.hbs"), file);
}
