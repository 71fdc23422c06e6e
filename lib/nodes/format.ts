// Node-name formats shared by the sources that name nodes (range_label, add_time): folly-style
// `{name}` or `{name:[[fill]align]width}` placeholders, `{{`/`}}` for literal braces. Widths and
// placeholder counts are bounded (lib/config/limits.ts) so no format can make huge names.
import { MAX_RANGE_LABEL_PLACEHOLDERS, MAX_RANGE_LABEL_WIDTH, overLimit } from "../config/limits";
import { NodeSourceError } from "./source";

type Part<K extends string> = string | { key: K; fill: string; align: "<" | ">" | "^" | null; width: number };

/**
 * Compiles a folly-style format: `{name}` or `{name:[[fill]align]width}`, `{{`/`}}` for literal
 * braces. Compiled once, so a bad format fails before any node is made.
 */
export function compileFormat<K extends string>(
  format: string,
  placeholders: readonly K[],
): (values: Readonly<Record<K, string>>) => string {
  const parts: Part<K>[] = [];
  let literal = "";
  for (let at = 0; at < format.length; at++) {
    const char = format.charAt(at);
    if ((char === "{" || char === "}") && format[at + 1] === char) {
      literal += char;
      at++;
      continue;
    }
    if (char === "}") throw new NodeSourceError(`"format" has an unmatched "}" at character ${at}: ${shown(format)}`);
    if (char !== "{") {
      literal += char;
      continue;
    }
    const close = format.indexOf("}", at);
    if (close < 0) throw new NodeSourceError(`"format" has an unmatched "{" at character ${at}: ${shown(format)}`);
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push(parsePlaceholder(format.slice(at + 1, close), format, placeholders));
    at = close;
  }
  if (literal !== "") parts.push(literal);
  const count = parts.filter((part) => typeof part !== "string").length;
  if (count > MAX_RANGE_LABEL_PLACEHOLDERS) {
    throw new NodeSourceError(overLimit('"format" has too many placeholders:', count, "MAX_RANGE_LABEL_PLACEHOLDERS"));
  }
  return (values) => parts.map((part) => (typeof part === "string" ? part : pad(values[part.key], part))).join("");
}

function parsePlaceholder<K extends string>(body: string, format: string, placeholders: readonly K[]): Part<K> {
  const colon = body.indexOf(":");
  const key = colon < 0 ? body : body.slice(0, colon);
  if (!(placeholders as readonly string[]).includes(key)) {
    const known = placeholders.map((name) => `{${name}}`).join(", ");
    throw new NodeSourceError(`"format" uses unknown placeholder {${shown(key)}}; known: ${known} (${shown(format)})`);
  }
  if (colon < 0) return { key: key as K, fill: " ", align: null, width: 0 };
  const spec = /^(?:(.)?([<>^]))?(\d+)$/u.exec(body.slice(colon + 1));
  if (!spec) {
    throw new NodeSourceError(`"format" spec {${shown(body)}} is not supported; use [[fill]align]width, e.g. {i:0>3}`);
  }
  const align = (spec[2] ?? null) as "<" | ">" | "^" | null;
  const widthText = spec[3] ?? "0";
  // Compared as text first: a width of a million digits must not become a number at all.
  const width = widthText.length > 12 ? Infinity : Number(widthText);
  if (width > MAX_RANGE_LABEL_WIDTH) {
    throw new NodeSourceError(
      `"format" width in {${shown(body)}} is over the limit of ${MAX_RANGE_LABEL_WIDTH} (MAX_RANGE_LABEL_WIDTH)`,
    );
  }
  return { key: key as K, fill: spec[1] ?? " ", align, width };
}

/** At most 60 characters of a user string, for messages. */
function shown(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

function pad<K extends string>(value: string, part: Exclude<Part<K>, string>): string {
  const missing = part.width - value.length;
  if (missing <= 0) return value;
  const fill = (n: number): string => part.fill.repeat(n);
  // Strings align left by default, as in folly::format.
  if (part.align === ">") return fill(missing) + value;
  if (part.align === "^") return fill(Math.floor(missing / 2)) + value + fill(Math.ceil(missing / 2));
  return value + fill(missing);
}
