/**
 * Pure: cuts a msgpack byte stream into whole top-level objects ("frames") before anything is
 * decoded, within limits. @msgpack/msgpack's stream decoder allocates what a header claims
 * (`new Array(size)` for every nested array header, up to 2^32 entries), has no depth limit, and
 * copies its whole buffer on every chunk while an object is incomplete: 2 MB of nested headers
 * took the sidecar to 417 MB. Here a frame is only scanned (headers and lengths, no allocation)
 * until it is whole and within the limits; only then is it decoded, with the same limits.
 */

/** How big and how deep one msgpack object may be. */
export interface MsgpackLimits {
  /** Bytes of one top-level object. */
  readonly maxFrameBytes: number;
  /** Nesting of maps and arrays (a top-level map is depth 1). */
  readonly maxDepth: number;
  /** Bytes of one string. */
  readonly maxStrBytes: number;
  /** Bytes of one bin or ext value. */
  readonly maxBinBytes: number;
  /** Maps, arrays, bins and exts in one frame: each costs an object (~60 bytes) for 1-2 bytes sent. */
  readonly maxObjects: number;
}

/** A stream that breaks the limits or is not msgpack; `problem` says how. */
export class FrameError extends Error {
  override readonly name = "FrameError";
}

interface Head {
  /** Bytes of this item itself: its header, and its payload for a string, bin or ext. */
  readonly size: number;
  /** Items it contains (a map's keys and values), 0 for a scalar. */
  readonly children: number;
  /** Whether decoding it allocates an object (map, array, bin, ext). */
  readonly object: boolean;
}

const FIXED: Record<number, number> = {
  0xc0: 1,
  0xc2: 1,
  0xc3: 1,
  0xca: 5,
  0xcb: 9,
  0xcc: 2,
  0xcd: 3,
  0xce: 5,
  0xcf: 9,
  0xd0: 2,
  0xd1: 3,
  0xd2: 5,
  0xd3: 9,
};
const FIXEXT: Record<number, number> = { 0xd4: 3, 0xd5: 4, 0xd6: 6, 0xd7: 10, 0xd8: 18 };

/**
 * Feeds on chunks, returns the frames they complete (each one object's bytes, copied). Keeps the
 * bytes of one unfinished frame at most (plus the chunk being read); resumes where it stopped, so
 * a frame that arrives a byte at a time costs no more than one that arrives whole.
 */
export class MsgpackFramer {
  private buf = new Uint8Array(4096);
  private len = 0;
  /** Where the current frame starts, and how far it was scanned. */
  private start = 0;
  private pos = 0;
  /** Items still to read in each open map or array, innermost last. */
  private readonly open: number[] = [];
  private objects = 0;
  private error: FrameError | null = null;

  constructor(readonly limits: MsgpackLimits) {}

  /** Bytes of a frame begun and not finished: 0 between frames. */
  get pending(): number {
    return this.len - this.start;
  }

  /**
   * The frames `chunk` completes, and the violation that stopped the reading, if any: the frames
   * before it are whole and good; after it, the stream is unreadable (every push says so again).
   */
  push(chunk: Uint8Array): { readonly frames: Uint8Array[]; readonly error: FrameError | null } {
    const frames: Uint8Array[] = [];
    if (this.error !== null) return { frames, error: this.error };
    this.append(chunk);
    try {
      this.scan(frames);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.error = err;
      this.buf = new Uint8Array(0);
      this.len = this.start = this.pos = 0;
      return { frames, error: err };
    }
    this.compact();
    return { frames, error: null };
  }

  private scan(frames: Uint8Array[]): void {
    for (;;) {
      const head = this.head();
      if (head === null) return;
      const end = this.pos + head.size;
      const frameBytes = end - this.start;
      if (frameBytes > this.limits.maxFrameBytes)
        throw new FrameError(`object larger than ${this.limits.maxFrameBytes} bytes`);
      // Each item takes a byte at least: a count that cannot fit in what is left of the frame is a lie.
      if (head.children > this.limits.maxFrameBytes - frameBytes)
        throw new FrameError(
          `a map or array of ${head.children} items cannot fit in ${this.limits.maxFrameBytes} bytes`,
        );
      if (end > this.len) return;
      this.pos = end;
      if (head.object && ++this.objects > this.limits.maxObjects)
        throw new FrameError(`more than ${this.limits.maxObjects} maps, arrays and binaries in one object`);
      if (head.children > 0) {
        if (this.open.length >= this.limits.maxDepth)
          throw new FrameError(`nested deeper than ${this.limits.maxDepth} levels`);
        this.open.push(head.children);
        continue;
      }
      if (this.itemDone()) {
        frames.push(this.buf.slice(this.start, this.pos));
        this.start = this.pos;
        this.objects = 0;
      }
    }
  }

  /** Counts one item done in the innermost open container, closing those it completes; true when the frame is whole. */
  private itemDone(): boolean {
    while (this.open.length > 0) {
      const left = this.open[this.open.length - 1]! - 1;
      if (left > 0) {
        this.open[this.open.length - 1] = left;
        return false;
      }
      this.open.pop();
    }
    return true;
  }

  private append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  /** Moves the unfinished frame to the front; gives back the memory a big frame took. */
  private compact(): void {
    if (this.start === 0) return;
    const rest = this.len - this.start;
    if (this.buf.length > 65_536 && rest <= 4096) {
      const small = new Uint8Array(4096);
      small.set(this.buf.subarray(this.start, this.len));
      this.buf = small;
    } else this.buf.copyWithin(0, this.start, this.len);
    this.len = rest;
    this.pos -= this.start;
    this.start = 0;
  }

  /** The item at `pos`, or null when its header is not all there yet. */
  private head(): Head | null {
    const { buf, pos, len } = this;
    if (pos >= len) return null;
    const b = buf[pos]!;
    const need = (n: number): boolean => pos + n <= len;
    const u = (offset: number, bytes: 1 | 2 | 4): number => {
      let v = 0;
      for (let i = 0; i < bytes; i++) v = v * 256 + buf[pos + offset + i]!;
      return v;
    };
    const scalar = (size: number): Head => ({ size, children: 0, object: false });
    const str = (header: number, bytes: number): Head => {
      if (bytes > this.limits.maxStrBytes)
        throw new FrameError(`string of ${bytes} bytes (at most ${this.limits.maxStrBytes})`);
      return { size: header + bytes, children: 0, object: false };
    };
    const bin = (header: number, bytes: number): Head => {
      if (bytes > this.limits.maxBinBytes)
        throw new FrameError(`binary of ${bytes} bytes (at most ${this.limits.maxBinBytes})`);
      return { size: header + bytes, children: 0, object: true };
    };
    const container = (header: number, children: number): Head => ({ size: header, children, object: true });

    if (b <= 0x7f || b >= 0xe0) return scalar(1);
    if (b <= 0x8f) return container(1, 2 * (b & 0x0f));
    if (b <= 0x9f) return container(1, b & 0x0f);
    if (b <= 0xbf) return str(1, b & 0x1f);
    if (FIXED[b] !== undefined) return scalar(FIXED[b]);
    if (FIXEXT[b] !== undefined) return bin(2, FIXEXT[b] - 2);
    switch (b) {
      case 0xc4:
        return need(2) ? bin(2, u(1, 1)) : null;
      case 0xc5:
        return need(3) ? bin(3, u(1, 2)) : null;
      case 0xc6:
        return need(5) ? bin(5, u(1, 4)) : null;
      case 0xc7:
        return need(3) ? bin(3, u(1, 1)) : null;
      case 0xc8:
        return need(4) ? bin(4, u(1, 2)) : null;
      case 0xc9:
        return need(6) ? bin(6, u(1, 4)) : null;
      case 0xd9:
        return need(2) ? str(2, u(1, 1)) : null;
      case 0xda:
        return need(3) ? str(3, u(1, 2)) : null;
      case 0xdb:
        return need(5) ? str(5, u(1, 4)) : null;
      case 0xdc:
        return need(3) ? container(3, u(1, 2)) : null;
      case 0xdd:
        return need(5) ? container(5, u(1, 4)) : null;
      case 0xde:
        return need(3) ? container(3, 2 * u(1, 2)) : null;
      case 0xdf:
        return need(5) ? container(5, 2 * u(1, 4)) : null;
      default:
        throw new FrameError(`0x${b.toString(16)} is not a msgpack type`);
    }
  }
}
