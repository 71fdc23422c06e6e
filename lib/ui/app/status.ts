// Task statuses as the UI shows them: each histogram code (docs/api.md "Histograms") falls into
// one category with a colour, a symbol and a word, so no status is told by colour alone.
import { decodeHistogramCode } from "../../api/histogram-codes";
import { StatusBits } from "../../model/status";

export interface Category {
  key: string;
  label: string;
  symbol: string;
}

/** In the order bars and legends show them. */
export const CATEGORIES: readonly Category[] = [
  { key: "running", label: "running", symbol: "▶" },
  { key: "failed", label: "failed", symbol: "✗" },
  { key: "backoff", label: "backing off", symbol: "↻" },
  { key: "error", label: "error", symbol: "!" },
  { key: "incomplete", label: "incomplete", symbol: "◐" },
  { key: "unstarted", label: "pending", symbol: "○" },
  { key: "done", label: "done", symbol: "✓" },
  { key: "avoided", label: "avoided", symbol: "–" },
  { key: "disabled", label: "disabled", symbol: "⊘" },
];

const BY_KEY = new Map(CATEGORIES.map((c) => [c.key, c]));

export function category(key: string): Category {
  return BY_KEY.get(key) ?? { key, label: key, symbol: "?" };
}

/** The category of one task node's bits. */
export function categoryOfBits(bits: number): string {
  if (bits & StatusBits.DISABLED) return "disabled";
  if (bits & StatusBits.AVOIDED) return "avoided";
  if (bits & StatusBits.RUNNING) return "running";
  if (bits & StatusBits.FAILED) return "failed";
  if (bits & StatusBits.USES_BACKOFF) return "backoff";
  if (bits & StatusBits.ERROR) return "error";
  if (bits & StatusBits.INCOMPLETE) return "incomplete";
  if (bits & StatusBits.DONE) return "done";
  return "unstarted";
}

/** Counts per category from counts per histogram code (codes that do not decode are skipped). */
export function countByCategory(counts: Readonly<Record<string, number>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [code, n] of Object.entries(counts)) {
    let bits: number;
    try {
      bits = decodeHistogramCode(code);
    } catch {
      continue;
    }
    const key = categoryOfBits(bits);
    out.set(key, (out.get(key) ?? 0) + n);
  }
  return out;
}

/** "3 ✓ done, 1 ▶ running", in category order. */
export function describeCounts(counts: ReadonlyMap<string, number>): string {
  const parts = CATEGORIES.filter((c) => (counts.get(c.key) ?? 0) > 0).map(
    (c) => `${counts.get(c.key) ?? 0} ${c.symbol} ${c.label}`,
  );
  return parts.length > 0 ? parts.join(", ") : "no tasks";
}
