// Bistro's histogram codes: a node's status bits as one or two characters of a base64url-style
// alphabet, as its web UI reads them. Apart from the histogram computation, so the web UI's
// first script can decode codes without bundling the scheduler. Pure.

/** Bistro's code alphabet (bistro/py/task_bits.py). */
export const HISTOGRAM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Bistro keeps at most this many sample names per (level, code) (`--monitor_samples`). */
export const MONITOR_SAMPLES = 10;

/** `ALPHA[bits & 63]`, then `ALPHA[bits >> 6]` only when that is not zero. */
export function histogramCode(bits: number): string {
  if (!Number.isInteger(bits) || bits < 0 || bits >= 64 * 64) throw new RangeError(`Cannot encode bits ${bits}`);
  const low = HISTOGRAM_ALPHABET.charAt(bits & 63);
  return bits >> 6 ? low + HISTOGRAM_ALPHABET.charAt(bits >> 6) : low;
}

/** The bits of a histogram code (for clients and tests). */
export function decodeHistogramCode(code: string): number {
  const low = HISTOGRAM_ALPHABET.indexOf(code.charAt(0));
  const high = code.length > 1 ? HISTOGRAM_ALPHABET.indexOf(code.charAt(1)) : 0;
  if (low < 0 || high < 0 || code.length === 0 || code.length > 2 || (code.length === 2 && high === 0)) {
    throw new RangeError(`Not a histogram code: ${code}`);
  }
  return low | (high << 6);
}
