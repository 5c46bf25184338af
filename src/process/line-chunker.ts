/**
 * Turns a byte stream into log-record payloads of whole lines: each payload is one or more
 * complete lines (with their `\n`), taken as they arrive, so a burst of output costs a few
 * records rather than one per line. A line longer than `maxBytes` is cut into pieces; what is
 * left at the end (output without a final newline) comes out of `flush()`. Concatenating every
 * payload reproduces the stream byte for byte.
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
        out.push(data.slice(start, start + this.maxBytes)); // an over-long line, in pieces
        start += this.maxBytes;
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
