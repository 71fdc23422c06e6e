// Following a log (`sous logs --follow`, the web UI's follow): which line id each poll starts at,
// and which lines of its pages are new. Pure (no I/O), shared by the CLI and the browser.
//
// Line ids are times. One worker's lines become readable in id order (its log writer indexes its
// segments in the order it sealed them), but two workers flush at different moments, so a line of
// one can become readable after a line of the other with a larger id. A follow that asked only for
// ids past the last line it showed would skip such a line for good. So each poll starts
// FOLLOW_LATE_WINDOW_SEC before the newest line shown, and the lines already shown are skipped.

import { formatLineId, parseLineId } from "./line-id";

/**
 * How long after a line with a larger id a line of another worker may become readable and still
 * be shown: a segment is sealed at most 10 s after its first line, then written with retries.
 */
export const FOLLOW_LATE_WINDOW_SEC = 30;
const LATE_WINDOW_ID = BigInt(FOLLOW_LATE_WINDOW_SEC) << 32n;

/** The fields of a returned line that tell it apart (`GET /logs` rows). */
export interface FollowedLine {
  job: string;
  node: string;
  line: string;
  lineId: string;
}

/** One follow's position: the newest line id shown and the lines shown within the late window. */
export class FollowCursor {
  private newest: bigint | undefined;
  /** Lines shown whose id is within the late window of the newest, by key, with their ids. */
  private readonly shown = new Map<string, bigint>();

  /** The inclusive line id the next poll starts at; undefined before any line was shown (read from the start). */
  start(): string | undefined {
    if (this.newest === undefined) return undefined;
    const start = this.newest - LATE_WINDOW_ID;
    return formatLineId(start < 0n ? 0n : start);
  }

  /** The lines of a page not shown before, in page order; they count as shown from now on. */
  fresh<T extends FollowedLine>(lines: readonly T[]): T[] {
    const fresh: T[] = [];
    for (const line of lines) {
      const id = parseLineId(line.lineId);
      if (id === undefined) continue;
      // Ids can repeat across workers, so a line is known by its id, task and text together.
      const key = `${line.lineId}\u0000${line.job}\u0000${line.node}\u0000${line.line}`;
      if (this.shown.has(key)) continue;
      if (this.newest !== undefined && id < this.newest - LATE_WINDOW_ID) continue; // shown before it fell out of the window
      this.shown.set(key, id);
      fresh.push(line);
      if (this.newest === undefined || id > this.newest) this.newest = id;
    }
    if (this.newest !== undefined) {
      const oldest = this.newest - LATE_WINDOW_ID;
      for (const [key, id] of this.shown) if (id < oldest) this.shown.delete(key);
    }
    return fresh;
  }
}
