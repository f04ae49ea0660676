import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { FileConfigStore } from "../../sidecar/apply/config-file";
import { tempDirs } from "../support/temp-dir";

const tempDir = tempDirs("ha-sidecar-");

describe("FileConfigStore", () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });

  it("reads null when there is no file yet", async () => {
    await expect(new FileConfigStore(path.join(dir, "haproxy.cfg")).read()).resolves.toBeNull();
  });

  it("stages beside the target and leaves the live file untouched until commit", async () => {
    const target = path.join(dir, "haproxy.cfg");
    writeFileSync(target, "old\n");
    const store = new FileConfigStore(target);
    const staged = await store.stage("new\n");
    expect(path.dirname(staged)).toBe(dir);
    expect(readFileSync(target, "utf8")).toBe("old\n");
    await store.commit(staged);
    expect(readFileSync(target, "utf8")).toBe("new\n");
    expect(readdirSync(dir)).toEqual(["haproxy.cfg"]);
    expect(statSync(target).mode & 0o777).toBe(0o644);
  });

  it("discards a staged file", async () => {
    const store = new FileConfigStore(path.join(dir, "haproxy.cfg"));
    await store.discard(await store.stage("x"));
    expect(readdirSync(dir)).toEqual([]);
  });

  it("fails on a read-only directory and leaves no partial file", async () => {
    if (process.getuid?.() === 0) {
      // Root ignores permission bits: use a path whose parent is a file, which fails for anyone.
      const file = path.join(dir, "not-a-dir");
      writeFileSync(file, "");
      await expect(new FileConfigStore(path.join(file, "haproxy.cfg")).stage("x")).rejects.toThrow(/ENOTDIR/);
    } else {
      chmodSync(dir, 0o555);
      await expect(new FileConfigStore(path.join(dir, "haproxy.cfg")).stage("x")).rejects.toThrow(/EACCES/);
      chmodSync(dir, 0o755);
    }
    expect(readdirSync(dir).filter((f) => f !== "not-a-dir")).toEqual([]);
  });
});

describe("FileConfigStore: staged files of an earlier run", () => {
  it("gives every staged file its own name, and removes the ones a killed run left", async () => {
    const dir = tempDir();
    const target = path.join(dir, "haproxy.cfg");
    writeFileSync(target, "live\n");
    writeFileSync(path.join(dir, ".haproxy.cfg.7.1.abcd.tmp"), "half of a config a killed sidecar wrote");
    writeFileSync(path.join(dir, "server-state"), "not ours");
    const store = new FileConfigStore(target);
    const [a, b] = await Promise.all([store.stage("a\n"), store.stage("b\n")]);
    expect(a).not.toBe(b);
    await store.discard(a);
    await store.discard(b);
    await expect(store.removeStale()).resolves.toBe(1);
    expect(readdirSync(dir).sort()).toEqual(["haproxy.cfg", "server-state"]);
  });
});
