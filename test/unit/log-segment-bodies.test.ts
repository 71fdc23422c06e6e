// Reused memory for segment bodies (lib/logs/segment-bodies.ts) and its use by SegmentBuilder.build.
import { SegmentBodies } from "../../lib/logs/segment-bodies";
import { parseSegmentText, SegmentBuilder } from "../../lib/logs/segment";
import { timeBytes } from "../../lib/logs/segment-rows";

describe("SegmentBodies", () => {
  test("a full-size body given back is the memory of the next one; none is shared while in use", () => {
    const bodies = new SegmentBodies(1000, 2);
    const a = bodies.take(900);
    const b = bodies.take(1000);
    expect(a.length).toBe(900);
    expect(a.buffer).not.toBe(b.buffer);
    bodies.give(a);
    const c = bodies.take(600);
    expect(c.buffer).toBe(a.buffer);
    expect(c.length).toBe(600);
  });

  test("keeps at most maxSpare unused buffers, ignores bodies it did not make", () => {
    const bodies = new SegmentBodies(1000, 1);
    const taken = [bodies.take(800), bodies.take(800)];
    for (const body of taken) bodies.give(body);
    expect(bodies.spareCount).toBe(1);
    bodies.give(Buffer.alloc(1000).subarray(1)); // same size, not at offset 0
    bodies.give(Buffer.alloc(500));
    expect(bodies.spareCount).toBe(1);
  });

  test("a small body is fresh memory and gives the spare memory up; an oversized one is fresh too", () => {
    const bodies = new SegmentBodies(1000, 2);
    bodies.give(bodies.take(1000));
    expect(bodies.spareCount).toBe(1);
    expect(bodies.take(1500).length).toBe(1500);
    expect(bodies.spareCount).toBe(1);
    expect(bodies.take(10).length).toBe(10);
    expect(bodies.spareCount).toBe(0);
  });

  test("a segment built into reused memory reads back whole, whatever the memory held before", () => {
    const bodies = new SegmentBodies(4096, 1);
    const task = { job: "j", node: "n", attempt: "a", token: "t" };
    const build = (text: string) => {
      const builder = new SegmentBuilder();
      const data = Buffer.from(`${text}\n${text}\n`);
      builder.addRun(
        task,
        "stdout",
        100,
        4096,
        4096,
        timeBytes(5),
        { data, bounds: [0, text.length, text.length + 1, 2 * text.length + 1] },
        0,
        2,
      );
      return builder.build((length) => bodies.take(length));
    };
    const first = build("x".repeat(1500));
    bodies.give(first.body.fill(0x7b)); // "{" everywhere, as if it held something else
    const second = build("y".repeat(1200));
    expect(second.body.buffer).toBe(first.body.buffer);
    expect(parseSegmentText(second.body.toString("utf8")).map((line) => line.text)).toEqual([
      "y".repeat(1200),
      "y".repeat(1200),
    ]);
  });
});
