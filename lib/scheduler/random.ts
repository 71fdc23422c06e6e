// Randomness for a round, always drawn from the caller's `rng` (uniform in [0, 1)) so a seed
// replays a round exactly.

export type Rng = () => number;

/** A uniform integer in [0, n). */
export function randomIndex(rng: Rng, n: number): number {
  const i = Math.floor(rng() * n);
  return i < n ? i : n - 1;
}

/** Fisher-Yates shuffle, in place. */
export function shuffleInPlace<A extends { length: number; [i: number]: T }, T>(items: A, rng: Rng): A {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomIndex(rng, i + 1);
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

/**
 * An index drawn with probability weight / total weight. Non-positive weights count as zero;
 * when all are zero the draw is uniform (Bistro leaves that case undefined).
 */
export function pickWeighted(rng: Rng, weights: readonly number[]): number {
  let total = 0;
  for (const w of weights) if (w > 0) total += w;
  if (total <= 0) return randomIndex(rng, weights.length);
  let target = rng() * total;
  let last = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] ?? 0;
    if (w <= 0) continue;
    last = i;
    if (target < w) return i;
    target -= w;
  }
  return last;
}
