/**
 * Splits a byte stream (one JSON object per line, for as long as it lasts: Docker's event
 * stream, as the sidecar reads it and as the API proxy relays it) into lines, whatever the chunk
 * boundaries, on bytes: a UTF-8 character cut between two chunks stays whole, and a chunk of
 * many lines costs one pass over it. At most `maxLineBytes` are ever held; a longer line is
 * dropped (reported through `onOversized`) up to its end, and the lines after it are read as
 * usual. Empty lines are skipped.
 */
export class LineSplitter {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Inside a line already reported as oversized: skip to its end. */
  private dropping = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOversized: (bytes: number) => void = () => undefined,
  ) {}

  push(chunk: Buffer | string): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let nl = bytes.indexOf(0x0a, start); nl >= 0; nl = bytes.indexOf(0x0a, start)) {
      const piece = bytes.subarray(start, nl);
      start = nl + 1;
      const size = this.heldBytes + piece.length;
      const held = this.held;
      const dropping = this.dropping;
      this.held = [];
      this.heldBytes = 0;
      this.dropping = false;
      if (dropping) continue;
      if (size > this.maxLineBytes) this.onOversized(size);
      else if (size > 0) this.onLine(held.length === 0 ? piece : Buffer.concat([...held, piece]));
    }
    const rest = bytes.subarray(start);
    if (rest.length === 0 || this.dropping) return;
    if (this.heldBytes + rest.length > this.maxLineBytes) {
      this.onOversized(this.heldBytes + rest.length);
      this.held = [];
      this.heldBytes = 0;
      this.dropping = true;
      return;
    }
    // A copy: the chunk's memory may be a slice of a larger pooled buffer.
    this.held.push(Buffer.from(rest));
    this.heldBytes += rest.length;
  }
}
