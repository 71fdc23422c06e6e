// The tree's name column (NodeNames) and the name index over it: names of any script read back
// as written, lookups find exactly the names stored, and a tree round-trips through the codec.
import fc from "fast-check";
import { decodeTree, encodeRows, treeRows } from "../../lib/nodes/codec";
import { buildNodeTree, NodeNames, type NodeSpec } from "../../lib/model/tree";

const SAMPLES = ["host1", "", "données", "数据库", "emoji-😀", "a\u0000b", "é", "e\u0301"];

describe("NodeNames", () => {
  it("reads back every name as written, ASCII or not", () => {
    const names = NodeNames.of(SAMPLES);
    expect(names.length).toBe(SAMPLES.length);
    expect(names.toArray()).toEqual(SAMPLES);
    SAMPLES.forEach((name, n) => {
      expect(names.at(n)).toBe(name);
    });
  });

  it("compares a stored name with a string exactly", () => {
    const names = NodeNames.of(SAMPLES);
    SAMPLES.forEach((name, n) => {
      for (const other of [...SAMPLES, "host2", "host", "host11", "Host1", "donnees", "数据"]) {
        expect(names.equals(n, other)).toBe(name === other);
      }
    });
  });

  it("orders names by their bytes", () => {
    const names = NodeNames.of(["b", "a", "ab", "é", "z"]);
    const sign = (a: number, b: number) => Math.sign(names.compare(a, b));
    expect(sign(1, 0)).toBe(-1);
    expect(sign(1, 2)).toBe(-1);
    expect(sign(3, 4)).toBe(1); // é is 0xC3 0xA9 in UTF-8, after z
    expect(sign(2, 2)).toBe(0);
  });

  it("appends names given as bytes, and grows past its first buffers", () => {
    const names = new NodeNames();
    const long = "x".repeat(40_000);
    names.push(long);
    const bytes = Buffer.from("--données--");
    names.pushBytes(bytes, 2, bytes.length - 2);
    for (let i = 0; i < 5000; i++) names.push(`n${i}`);
    names.trim();
    expect(names.at(0)).toBe(long);
    expect(names.at(1)).toBe("données");
    expect(names.at(5001)).toBe("n4999");
    expect(names.buffer.length).toBe(names.end(names.length - 1));
  });

  it("rejects a name number outside the column", () => {
    const names = NodeNames.of(["a"]);
    expect(() => names.at(1)).toThrow(RangeError);
    expect(() => names.at(-1)).toThrow(RangeError);
  });
});

describe("a tree's name index over the column", () => {
  const nameArb = fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.constantFrom(...SAMPLES.filter(Boolean)));

  it("finds each name's first node, and nothing else", () => {
    fc.assert(
      fc.property(fc.uniqueArray(nameArb, { maxLength: 40 }), fc.array(nameArb, { maxLength: 10 }), (names, probes) => {
        const valid = names.filter((name) => name !== "inst" && !/\p{Surrogate}/u.test(name));
        const specs: NodeSpec[] = valid.map((name) => ({ name, level: "host", parent: "inst" }));
        const tree = buildNodeTree(["host"], "inst", specs);
        valid.forEach((name, i) => {
          expect(tree.indexOf.get(name)).toBe(i + 1);
        });
        for (const probe of probes) expect(tree.indexOf.has(probe)).toBe(probe === "inst" || valid.includes(probe));
        expect([...tree.indexOf.keys()]).toEqual(["inst", ...valid]);
      }),
    );
  });

  it("round-trips non-ASCII names through the stored form", () => {
    const specs: NodeSpec[] = [
      { name: "données", level: "host", parent: "inst" },
      { name: "数据库", level: "host", parent: "inst" },
      { name: "données/😀", level: "db", parent: "données" },
      { name: "数据库/1", level: "db", parent: "数据库" },
    ];
    const tree = buildNodeTree(["host", "db"], "inst", specs);
    const back = decodeTree(["host", "db"], "inst", encodeRows(treeRows(tree)).body);
    expect(back.names.toArray()).toEqual(["inst", "données", "数据库", "données/😀", "数据库/1"]);
    expect(Array.from(back.parentOf)).toEqual(Array.from(tree.parentOf));
    expect(Array.from(back.byLevel[2] ?? [])).toEqual([3, 4]);
  });
});
