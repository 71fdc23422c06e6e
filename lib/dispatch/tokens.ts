// The secrets that bind messages to the worker that holds them (docs/adr/0004): per-attempt
// tokens carried by start and kill orders and echoed in the attempt's end, and per-registration
// heartbeat secrets. Only SHA-256 hashes are stored; a token is an HMAC of the attempt under a
// key only the scheduler side can read, so a re-sent order carries the same token without
// the token itself ever being stored.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Longest token or secret a message may carry (ours are 43 characters). */
export const MAX_SECRET_LENGTH = 128;

/** A fresh random secret: 256 bits, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** What is stored in place of a secret. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("base64url");
}

/** True only when `secret` is given and hashes to `hash` (compared in constant time). */
export function secretMatches(secret: string | undefined, hash: string | undefined): boolean {
  if (secret === undefined || hash === undefined) return false;
  const given = Buffer.from(hashSecret(secret));
  const stored = Buffer.from(hash);
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/** An attempt of a task: what a token is bound to. */
export interface AttemptRef {
  job: string;
  node: string;
  attempt: string;
}

/** Derives attempt tokens from the dispatch key: unguessable without the key, the same on every re-send. */
export type AttemptTokens = (attempt: AttemptRef) => string;

export function attemptTokens(dispatchKey: Buffer): AttemptTokens {
  return ({ job, node, attempt }) =>
    createHmac("sha256", dispatchKey).update(`${job}\u0000${node}\u0000${attempt}`).digest("base64url");
}

/** True only when `token` is the one the dispatch key gives `attempt` (compared in constant time). */
export function tokenMatches(tokens: AttemptTokens, attempt: AttemptRef, token: string | undefined): boolean {
  if (token === undefined) return false;
  const expected = Buffer.from(tokens(attempt));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
