import { StringDecoder } from "node:string_decoder";

/**
 * Splits a byte stream into lines, whatever the chunk boundaries (a UTF-8 character cut between
 * two chunks included). A line longer than `maxLineBytes` is dropped (reported through
 * `onOverflow`) instead of growing the buffer without bound.
 */
export class LineSplitter {
  private buffered = "";
  private overflowing = false;
  private readonly decoder = new StringDecoder("utf8");

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = 1 << 20,
    private readonly onOverflow: (droppedBytes: number) => void = () => undefined,
  ) {}

  push(chunk: Buffer | string): void {
    this.buffered += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.buffered.indexOf("\n")) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (this.overflowing) {
        // The tail of a line already dropped.
        this.overflowing = false;
        continue;
      }
      if (line.trim() !== "") this.onLine(line.trim());
    }
    if (this.buffered.length > this.maxLineBytes) {
      this.onOverflow(this.buffered.length);
      this.buffered = "";
      this.overflowing = true;
    }
  }
}
