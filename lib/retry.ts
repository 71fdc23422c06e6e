// The one retry helper of Sous: capped exponential backoff with full jitter (a retry waits a
// random time in [0, min(cap, base · 2^retry)), as AWS's architecture guidance recommends), for
// errors worth retrying and for batch calls that leave items unprocessed. Randomness and sleep
// are parameters so tests can drive it without waiting.

export interface RetryPolicy {
  /** Calls in all, the first one included (>= 1). */
  attempts: number;
  /** Upper bound of the first retry's wait. */
  baseMs: number;
  /** No wait is longer than this. */
  capMs: number;
}

export interface RetryEnv {
  /** A number in [0, 1). */
  random: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const REAL_RETRY_ENV: RetryEnv = {
  random: Math.random,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Batch writes and reads of DynamoDB that leave items unprocessed (throttling): about 12 s at most in all. */
export const UNPROCESSED_ITEMS_RETRY: RetryPolicy = { attempts: 16, baseMs: 50, capMs: 1000 };

/** Transactions cancelled by a conflict with another transaction on the same items: short waits. */
export const TRANSACTION_CONFLICT_RETRY: RetryPolicy = { attempts: 9, baseMs: 20, capMs: 2000 };

/** The wait before retry number `retry` (1 = the first retry): full jitter under a capped exponential. */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** Waits before retry number `retry`; for loops that interleave retries with other steps. */
export function pauseBeforeRetry(retry: number, policy: RetryPolicy, env: RetryEnv = REAL_RETRY_ENV): Promise<void> {
  return env.sleep(backoffDelayMs(retry, policy, env.random));
}

/**
 * Calls `run` until it resolves; a rejection for which `shouldRetry` holds is retried after a
 * backoff while attempts remain, any other (or the last) rejection is thrown as is.
 */
export async function retryOnError<T>(
  run: (attempt: number) => Promise<T>,
  shouldRetry: (error: unknown) => boolean,
  policy: RetryPolicy,
  env: RetryEnv = REAL_RETRY_ENV,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !shouldRetry(error)) throw error;
      await pauseBeforeRetry(attempt, policy, env);
    }
  }
}

/** Calls `done` until it resolves true, with backoff between calls; false when attempts ran out. */
export async function retryUntil(
  done: (attempt: number) => Promise<boolean>,
  policy: RetryPolicy,
  env: RetryEnv = REAL_RETRY_ENV,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    if (await done(attempt)) return true;
    if (attempt >= policy.attempts) return false;
    await pauseBeforeRetry(attempt, policy, env);
  }
}

/**
 * Sends `items`, then again what `send` returns as left over (unprocessed items, retryable
 * failures), with backoff between calls. Returns what is still left after the last attempt
 * (empty when everything went through); `send` is not called with an empty list.
 */
export async function retryRemaining<T>(
  items: readonly T[],
  send: (pending: readonly T[], attempt: number) => Promise<readonly T[]>,
  policy: RetryPolicy,
  env: RetryEnv = REAL_RETRY_ENV,
): Promise<readonly T[]> {
  let pending = items;
  await retryUntil(
    async (attempt) => {
      if (pending.length > 0) pending = await send(pending, attempt);
      return pending.length === 0;
    },
    policy,
    env,
  );
  return pending;
}
