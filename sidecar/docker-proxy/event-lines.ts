/**
 * Splits Docker's event stream (one JSON object per line, for as long as it lasts) into lines,
 * whatever the chunk boundaries, on bytes: a multi-byte character cut between two chunks stays
 * whole. At most `maxLineBytes` are ever held; a longer line is dropped (reported through
 * `onOversized`) up to its end, and the lines after it are read as usual.
 */
export class EventLines {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Inside a line already reported as oversized: skip to its end. */
  private dropping = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOversized: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      const bytes = this.heldBytes + piece.length;
      const held = this.held;
      const dropping = this.dropping;
      this.held = [];
      this.heldBytes = 0;
      this.dropping = false;
      if (dropping) continue;
      if (bytes > this.maxLineBytes) this.onOversized(bytes);
      else if (bytes > 0) this.onLine(held.length === 0 ? piece : Buffer.concat([...held, piece]));
    }
    const rest = chunk.subarray(start);
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
