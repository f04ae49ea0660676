/** The template file on disk: an edit in place, a replacement or a removal is noticed by a stat. */
import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { TemplateFile } from "../../sidecar/render/template-file";

describe("TemplateFile.changed", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "hs-template-"));
  const file = path.join(dir, "haproxy.cfg.hbs");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes its measure first, then tells each edit, replacement and removal once", async () => {
    writeFileSync(file, "one");
    const t = new TemplateFile(file, { runtimeSocket: "/x", serverStateFile: "/y", statsAuth: null });
    expect(await t.changed()).toBe(false);
    expect(await t.changed()).toBe(false);
    // Edited in place (same size, a later mtime), as an editor or `sed -i` does.
    writeFileSync(file, "two");
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(await t.changed()).toBe(true);
    expect(await t.changed()).toBe(false);
    // Replaced by a rename (a new inode).
    writeFileSync(`${file}.new`, "three");
    renameSync(`${file}.new`, file);
    expect(await t.changed()).toBe(true);
    rmSync(file);
    expect(await t.changed()).toBe(true);
    expect(await t.changed()).toBe(false);
    writeFileSync(file, "back");
    expect(await t.changed()).toBe(true);
  });
});
