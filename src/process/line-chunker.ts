/**
 * Turns a byte stream into log-record payloads of whole lines: each payload is one or more
 * complete lines (with their `\n`), taken as they arrive, so a burst of output costs a few
 * records rather than one per line. A line longer than `maxBytes` is cut into pieces, each cut
 * at a UTF-8 character boundary (a piece may be up to 3 bytes short of `maxBytes`), so every
 * piece of valid UTF-8 output is valid UTF-8 on its own; what is left at the end (output without
 * a final newline) comes out of `flush()`. Concatenating every payload reproduces the stream
 * byte for byte.
 */
export class LineChunker {
  private rest: Uint8Array = new Uint8Array(0);

  constructor(private readonly maxBytes = 64 * 1024) {}

  /** Feeds a chunk; returns zero or more payloads ready to publish. */
  push(chunk: Uint8Array): Uint8Array[] {
    const data = this.rest.length ? concat(this.rest, chunk) : chunk;
    const out: Uint8Array[] = [];
    let start = 0;
    for (;;) {
      const nl = data.lastIndexOf(0x0a, Math.min(data.length, start + this.maxBytes) - 1);
      if (nl >= start) {
        out.push(data.slice(start, nl + 1));
        start = nl + 1;
      } else if (data.length - start >= this.maxBytes) {
        const cut = charBoundaryBefore(data, start, start + this.maxBytes); // an over-long line, in pieces
        out.push(data.slice(start, cut));
        start = cut;
      } else break;
    }
    this.rest = data.slice(start);
    return out;
  }

  /** Whatever is left (a final line without a newline), or nothing. */
  flush(): Uint8Array | undefined {
    const r = this.rest;
    this.rest = new Uint8Array(0);
    return r.length ? r : undefined;
  }
}

/**
 * The largest cut ≤ `end` (and > `start`) that does not split a UTF-8 character: when a lead byte
 * in the last three bytes before `end` starts a character that runs past `end`, cut before it.
 * Bytes that are not valid UTF-8 are cut at `end`, as raw bytes have no boundaries to respect.
 */
export function charBoundaryBefore(data: Uint8Array, start: number, end: number): number {
  for (let p = end - 1; p >= Math.max(start, end - 3); p--) {
    const b = data[p]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: keep looking for its lead byte
    const len = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
    return p + len > end && p > start ? p : end;
  }
  return end;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
