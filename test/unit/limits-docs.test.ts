// docs/limits.md lists every limit of lib/config/limits.ts with its value, and nothing else.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatCount, LIMITS } from "../../lib/config/limits";

const docs = readFileSync(join(__dirname, "..", "..", "docs", "limits.md"), "utf8");
const rows = new Map([...docs.matchAll(/^\| `(MAX_[A-Z_]+)` \| ([\d,]+) \|/gm)].map((m) => [m[1]!, m[2]!]));

describe("docs/limits.md", () => {
  it.each(Object.entries(LIMITS))("lists %s with its value", (name, value) => {
    expect(rows.get(name)).toBe(formatCount(value));
  });

  it("lists no limit the code does not have", () => {
    expect([...rows.keys()].filter((name) => !Object.hasOwn(LIMITS, name))).toEqual([]);
  });
});
