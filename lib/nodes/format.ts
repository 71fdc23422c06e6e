// Node-name formats shared by the sources that name nodes (range_label, add_time): folly-style
// `{name}` or `{name:[[fill]align]width}` placeholders, `{{`/`}}` for literal braces.
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
    if (char === "}") throw new NodeSourceError(`"format" has an unmatched "}" at character ${at}: ${format}`);
    if (char !== "{") {
      literal += char;
      continue;
    }
    const close = format.indexOf("}", at);
    if (close < 0) throw new NodeSourceError(`"format" has an unmatched "{" at character ${at}: ${format}`);
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push(parsePlaceholder(format.slice(at + 1, close), format, placeholders));
    at = close;
  }
  if (literal !== "") parts.push(literal);
  return (values) => parts.map((part) => (typeof part === "string" ? part : pad(values[part.key], part))).join("");
}

function parsePlaceholder<K extends string>(body: string, format: string, placeholders: readonly K[]): Part<K> {
  const colon = body.indexOf(":");
  const key = colon < 0 ? body : body.slice(0, colon);
  if (!(placeholders as readonly string[]).includes(key)) {
    const known = placeholders.map((name) => `{${name}}`).join(", ");
    throw new NodeSourceError(`"format" uses unknown placeholder {${key}}; known: ${known} (${format})`);
  }
  if (colon < 0) return { key: key as K, fill: " ", align: null, width: 0 };
  const spec = /^(?:(.)?([<>^]))?(\d+)$/u.exec(body.slice(colon + 1));
  if (!spec) {
    throw new NodeSourceError(`"format" spec {${body}} is not supported; use [[fill]align]width, e.g. {i:0>3}`);
  }
  const align = (spec[2] ?? null) as "<" | ">" | "^" | null;
  return { key: key as K, fill: spec[1] ?? " ", align, width: Number(spec[3]) };
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
