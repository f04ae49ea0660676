import { promises as fs } from "node:fs";

/** Where the change log persists: JSON lines, appended. */
export interface ChangeStore {
  /** The lines kept so far, oldest first (every generation). */
  load(): Promise<string[]>;
  /** Appends lines (each without its newline). */
  append(lines: readonly string[]): Promise<void>;
}

/**
 * JSON lines in a file on the shared volume, rotated by size: past `maxBytes` the file becomes
 * `<path>.1` (the previous `.1` is dropped) and a new one starts. At most about twice
 * `maxBytes` on disk; a restart reads both generations back.
 */
export class JsonLinesChangeFile implements ChangeStore {
  private size: number | null = null;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
  ) {}

  async load(): Promise<string[]> {
    const lines: string[] = [];
    for (const p of [`${this.path}.1`, this.path]) {
      const text = await fs.readFile(p, "utf8").catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return "";
        throw err;
      });
      lines.push(...text.split("\n").filter((l) => l.trim() !== ""));
    }
    return lines;
  }

  async append(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const text = lines.map((l) => `${l}\n`).join("");
    if (this.size === null)
      this.size = await fs.stat(this.path).then(
        (s) => s.size,
        () => 0,
      );
    if (this.size > 0 && this.size + Buffer.byteLength(text) > this.maxBytes) {
      await fs.rename(this.path, `${this.path}.1`);
      this.size = 0;
    }
    await fs.appendFile(this.path, text, { mode: 0o640 });
    this.size += Buffer.byteLength(text);
  }
}
