import { promises as fs } from "node:fs";

/** One line read back, and where it was. */
export interface StoredLine {
  readonly file: string;
  /** 1-based; counted from the first whole line read when only the file's tail was (StoredHistory.notes says so). */
  readonly line: number;
  readonly text: string;
}

/** What a store read back: its lines, oldest first, and what it left out and why. */
export interface StoredHistory {
  readonly lines: readonly StoredLine[];
  /** Parts not read: an oversized file's head, lines past the length cap, a file that is no file. */
  readonly notes: readonly string[];
}

/** Where the change log persists: JSON lines, appended. */
export interface ChangeStore {
  /** The lines kept so far, oldest first (every generation), within the store's read caps. */
  load(): Promise<StoredHistory>;
  /** Appends lines (each without its newline). */
  append(lines: readonly string[]): Promise<void>;
}

/** A record is about 500 bytes; a line this long is no record. */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * JSON lines in a file on the shared volume, rotated by size: past `maxBytes` the file becomes
 * `<path>.1` (the previous `.1` is dropped) and a new one starts. At most about twice
 * `maxBytes` on disk; a restart reads both generations back, but never more than twice
 * `maxBytes` in all (the newest bytes: a file grown or replaced behind the sidecar's back is
 * read from its tail), and never a line longer than MAX_LINE_BYTES.
 */
export class JsonLinesChangeFile implements ChangeStore {
  private size: number | null = null;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
  ) {}

  async load(): Promise<StoredHistory> {
    const notes: string[] = [];
    let budget = 2 * this.maxBytes;
    const parts: Array<{ file: string; bytes: Buffer; fromStart: boolean }> = [];
    // The newest first: the budget goes to the current file, what is left to the previous one.
    for (const file of [this.path, `${this.path}.1`]) {
      const part = await readTail(file, budget, notes);
      if (part === null) continue;
      budget -= part.bytes.length;
      parts.unshift({ file, ...part });
    }
    const lines: StoredLine[] = [];
    for (const { file, bytes, fromStart } of parts) {
      const texts = bytes.toString("utf8").split("\n");
      // A tail starts mid-line: that piece is no record.
      if (!fromStart) texts.shift();
      texts.forEach((text, i) => {
        if (text.trim() === "") return;
        if (Buffer.byteLength(text) > MAX_LINE_BYTES)
          notes.push(`${file} line ${i + 1}: longer than ${MAX_LINE_BYTES} bytes, skipped`);
        else lines.push({ file, line: i + 1, text });
      });
    }
    return { lines, notes };
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

/** The last `budget` bytes of a regular file; null when there is none (or no budget left). */
async function readTail(
  file: string,
  budget: number,
  notes: string[],
): Promise<{ bytes: Buffer; fromStart: boolean } | null> {
  if (budget <= 0) return null;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      notes.push(`${file}: not a regular file, skipped`);
      return null;
    }
    const length = Math.min(stat.size, budget);
    const start = stat.size - length;
    if (start > 0) notes.push(`${file}: ${stat.size} bytes, only its last ${length} read`);
    const bytes = Buffer.alloc(length);
    const { bytesRead } = await handle.read(bytes, 0, length, start);
    return { bytes: bytes.subarray(0, bytesRead), fromStart: start === 0 };
  } finally {
    await handle.close();
  }
}
