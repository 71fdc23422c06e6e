// The one regex engine for patterns users write (job filters, log searches): RE2 semantics via
// re2js, which matches in time linear in the text whatever the pattern, so a pattern such as
// `(a+)+$` cannot stall the API or a round the way a backtracking engine does. Search semantics
// (a match anywhere in the text), as Bistro's boost::regex_search. docs/limits.md lists the
// syntax RE2 refuses (back-references, look-around, possessive quantifiers).
import type { RE2JS } from "re2js";
import { MAX_REGEX_CHARS, overLimit } from "./limits";

/** A compiled user pattern. */
export interface UserRegex {
  readonly source: string;
  /** Whether the pattern matches anywhere in `text`. */
  test(text: string): boolean;
}

/** A pattern RE2 cannot compile, or one over MAX_REGEX_CHARS; the message says why. */
export class UserRegexError extends Error {
  override readonly name = "UserRegexError";
}

/** The engine behind every UserRegex (tests check it is the linear-time one). */
export const USER_REGEX_ENGINE = "re2js";

let engine: typeof RE2JS | undefined;

/**
 * re2js (about 150 KB minified) loads on the first compile, not at import: most configs have no
 * pattern, and the Lambda functions ship it beside their bundle rather than in it (infra/lambda.ts).
 */
function re2(): typeof RE2JS {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a deliberate lazy load, see above
  engine ??= (require("re2js") as typeof import("re2js")).RE2JS;
  return engine;
}

/** Compiles a user pattern; throws UserRegexError naming the problem. */
export function compileUserRegex(source: string): UserRegex {
  if (source.length > MAX_REGEX_CHARS) {
    throw new UserRegexError(overLimit("the pattern's length", source.length, "MAX_REGEX_CHARS", "characters"));
  }
  let compiled: RE2JS;
  try {
    compiled = re2().compile(source);
  } catch (error) {
    throw new UserRegexError(error instanceof Error ? error.message : String(error));
  }
  return { source, test: (text) => compiled.test(text) };
}
