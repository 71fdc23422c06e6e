// Memory for segment bodies, reused from one full-size segment to the next. On first touch fresh
// memory costs a page fault per 4 KiB, which on a virtual machine can cost more than copying the
// bytes in; at tens of MB/s of task output that was the biggest part of the writer's CPU time.
// Only full-size bodies are reused: a small segment (a quiet worker) gives the spare memory up.

export class SegmentBodies {
  private readonly spare: Buffer[] = [];

  /**
   * @param capacity bytes of each reusable buffer: the segment size plus room for the one read or
   *   line that may take a segment past it
   * @param maxSpare buffers kept while unused (at most one per concurrent upload is useful)
   */
  constructor(
    private readonly capacity: number,
    private readonly maxSpare: number,
  ) {}

  /** A buffer of exactly `length` bytes: reused memory for a full-size segment, else fresh. */
  take(length: number): Buffer {
    if (length < this.capacity / 2) {
      this.spare.length = 0;
      return Buffer.allocUnsafe(length);
    }
    if (length > this.capacity) return Buffer.allocUnsafe(length);
    return (this.spare.pop() ?? Buffer.allocUnsafeSlow(this.capacity)).subarray(0, length);
  }

  /** Takes back a body from `take` once nothing reads it any more (its PUT has ended). */
  give(body: Buffer): void {
    if (body.byteOffset !== 0 || body.buffer.byteLength !== this.capacity) return; // not one of ours
    if (this.spare.length < this.maxSpare) this.spare.push(Buffer.from(body.buffer, 0, this.capacity));
  }

  /** Spare buffers held (for tests and stats). */
  get spareCount(): number {
    return this.spare.length;
  }
}
