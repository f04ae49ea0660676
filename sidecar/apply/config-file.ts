import { promises as fs, constants } from "node:fs";
import { randomBytes } from "node:crypto";
import * as path from "node:path";

/** The live config file, written atomically: temp file beside it, fsync, rename, fsync dir. */
export interface ConfigStore {
  /** Current content, or null when there is no file yet. */
  read(): Promise<string | null>;
  /** Writes `text` to a temp file in the target directory (fsynced) and returns its path. */
  stage(text: string): Promise<string>;
  /** Atomically replaces the live file with a staged one. */
  commit(stagedPath: string): Promise<void>;
  /** Removes a staged file that will not be committed. */
  discard(stagedPath: string): Promise<void>;
  /** Removes files staged by an earlier run that was killed before it could; how many. */
  removeStale(): Promise<number>;
}

let counter = 0;

export class FileConfigStore implements ConfigStore {
  constructor(
    private readonly target: string,
    private readonly mode = 0o644,
  ) {}

  async read(): Promise<string | null> {
    try {
      return await fs.readFile(this.target, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  async stage(text: string): Promise<string> {
    const dir = path.dirname(this.target);
    counter += 1;
    // Unique across runs too: a pid is reused by the next container, a random part is not.
    const tmp = path.join(dir, `${this.stagePrefix()}${process.pid}.${counter}.${randomBytes(4).toString("hex")}.tmp`);
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, this.mode);
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } catch (err) {
      await handle?.close().catch(() => undefined);
      handle = undefined;
      // A full or read-only volume must never leave a half-written file behind.
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    } finally {
      await handle?.close();
    }
    return tmp;
  }

  async commit(stagedPath: string): Promise<void> {
    try {
      await fs.rename(stagedPath, this.target);
    } catch (err) {
      await this.discard(stagedPath);
      throw err;
    }
    const dir = await fs.open(path.dirname(this.target), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async discard(stagedPath: string): Promise<void> {
    await fs.rm(stagedPath, { force: true });
  }

  async removeStale(): Promise<number> {
    const dir = path.dirname(this.target);
    const prefix = this.stagePrefix();
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return 0;
    }
    const stale = names.filter((n) => n.startsWith(prefix) && n.endsWith(".tmp"));
    await Promise.all(stale.map((n) => fs.rm(path.join(dir, n), { force: true })));
    return stale.length;
  }

  private stagePrefix(): string {
    return `.${path.basename(this.target)}.`;
  }
}
