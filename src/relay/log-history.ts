/**
 * Retained records of a log channel: encoded LogRecord frames indexed by offset, bounded by a
 * record count and a byte total; the oldest are evicted first. Offsets are assigned here, so
 * they are dense and monotonic whatever the source sends.
 */
export class LogHistory {
  private frames: Uint8Array[] = [];
  private head = 0; // index in `frames` of the first retained record
  private bytes = 0;
  /** Offset of the oldest retained record. */
  first = 0;
  /** Offset the next record will get. */
  next = 0;
  /** The producer whose records this history holds, and its last stored sequence number. */
  producer: string | undefined;
  producerSeq = 0;

  constructor(
    private readonly maxRecords: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.frames.length - this.head;
  }

  get retainedBytes(): number {
    return this.bytes;
  }

  /** Appends an encoded record whose offset field is already `this.next`; returns that offset. */
  append(frame: Uint8Array): number {
    this.frames.push(frame);
    this.bytes += frame.length;
    const offset = this.next++;
    while (this.size > 1 && (this.size > this.maxRecords || this.bytes > this.maxBytes)) {
      this.bytes -= this.frames[this.head]!.length;
      this.frames[this.head] = EMPTY;
      this.head++;
      this.first++;
    }
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
    return offset;
  }

  /** Forgets every record (a new run); offsets stay monotonic, so old cursors see a truncation. */
  restart(): void {
    this.frames = [];
    this.head = 0;
    this.bytes = 0;
    this.first = this.next;
    this.producer = undefined;
    this.producerSeq = 0;
  }

  /** The encoded record at `offset`, or undefined when evicted or not yet written. */
  get(offset: number): Uint8Array | undefined {
    if (offset < this.first || offset >= this.next) return undefined;
    return this.frames[this.head + (offset - this.first)];
  }
}

const EMPTY = new Uint8Array(0);
