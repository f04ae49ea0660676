import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/**
 * The template the e2e stack's sidecar reads (compose.test.yml mounts test-output/templates), from
 * the repository root. Another lane (HS_TEST_LANE: the nested engines', whose stacks do not read
 * it) copies its own elsewhere, never over a template a test of this lane is editing.
 */
export const TEST_TEMPLATE =
  process.env.HS_TEST_LANE === undefined
    ? "test-output/templates/haproxy.cfg.hbs"
    : `test-output/templates-${process.env.HS_TEST_LANE}/haproxy.cfg.hbs`;

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
