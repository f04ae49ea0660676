/** The template file on disk: an edit in place, a replacement or a removal is noticed by a stat. */
import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { serverIdsOf } from "../../sidecar/model/server-ids";
import { parseServerLines } from "../../sidecar/render/server-lines";
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

describe("TemplateFile.render: server ids", () => {
  const TEMPLATE = path.resolve(__dirname, "../../templates/haproxy.cfg.hbs");
  const paths = { runtimeSocket: "/x", serverStateFile: "/y", statsAuth: null };
  // Both ask for id 145357 (test/unit/server-ids.test.ts); "web_1076" sorts first.
  const server = (name: string, n: number) => ({
    name,
    sourceId: `id-${name}`,
    address: `10.0.0.${n}`,
    port: 3000,
    weight: null,
  });
  const state = (...names: string[]) => ({
    defaultService: "webapp",
    services: [{ name: "webapp", sticky: false, servers: names.map((n, i) => server(n, i + 1)) }],
  });
  const idOf = (text: string, name: string) => new RegExp(`server ${name} \\S+ .*\\bid (\\d+)`).exec(text)?.[1];

  it("renders a running server under the id it runs (keep), where a newcomer that sorts first asks for it too", async () => {
    const t = new TemplateFile(TEMPLATE, paths);
    const alone = await t.render(state("web_1274"));
    expect(idOf(alone.text, "web_1274")).toBe("145357");
    // What HAProxy runs, read back from the text as the applier reads its render or the live file.
    const keep = serverIdsOf(parseServerLines(alone.text).values());
    const both = await t.render(state("web_1076", "web_1274"), keep);
    expect(idOf(both.text, "web_1274")).toBe("145357");
    expect(idOf(both.text, "web_1076")).toBe("145358");
    // Without it, the name that sorts first takes the id: the running one would be renumbered.
    expect(idOf((await t.render(state("web_1076", "web_1274"))).text, "web_1274")).toBe("145358");
  });
});
