// Lines that become readable late, on the emulators, with the order injected (no load needed): a
// writer's segment whose PUT is held back. One writer's lines become readable in id order, so a
// reader paging with "one past the last line shown" never passes a line still on its way; another
// writer's late line is caught by the follow's trailing window (lib/logs/follow.ts).
import { CreateBucketCommand } from "@aws-sdk/client-s3";

import type { AwsClients } from "../../lib/aws";
import { attemptTokens } from "../../lib/dispatch/tokens";
import { FollowCursor } from "../../lib/logs/follow";
import { readLogs, type LogReaderDeps } from "../../lib/logs/reader";
import { LogWriter } from "../../lib/logs/writer";
import { ensureTable } from "../../lib/store/table";
import { emulatorClients, uniqueName } from "../helpers/aws";
import { FakeClock } from "../helpers/fake-clock";

const TOKENS = attemptTokens(Buffer.alloc(32, 3));
const T0_MS = Date.UTC(2026, 11, 2, 8, 0, 0);

let aws: AwsClients;
let bucket: string;
let tableName: string;
let clock: FakeClock;
/** PUTs of keys containing one of these wait for their release. */
const held = new Map<string, Promise<void>>();
/** Index writes (BatchWriteItem) sent and not yet answered. */
let indexWritesInFlight = 0;
const indexWritesDone: (() => void)[] = [];

beforeEach(async () => {
  aws = emulatorClients();
  bucket = uniqueName("sous-follow");
  tableName = uniqueName("sous-follow");
  await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await ensureTable(aws.dynamodb, tableName);
  clock = new FakeClock(T0_MS);
  held.clear();
  aws.s3.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: string }).Key ?? "";
      if (context.commandName === "PutObjectCommand") {
        for (const [part, gate] of held) if (key.includes(part)) await gate;
      }
      return next(args);
    },
    { step: "initialize", name: "holdPutsForTest" },
  );
  aws.doc.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "BatchWriteCommand") return next(args);
      indexWritesInFlight += 1;
      try {
        return await next(args);
      } finally {
        indexWritesInFlight -= 1;
        if (indexWritesInFlight === 0) for (const resolve of indexWritesDone.splice(0)) resolve();
      }
    },
    { step: "initialize", name: "countIndexWritesForTest" },
  );
});
afterEach(() => {
  aws.destroy();
});

function writer(workerId: string, salt: number): LogWriter {
  return new LogWriter(
    { s3: aws.s3, doc: aws.doc, tableName, bucket, workerId, clock, rng: () => salt / 4096 },
    { flushIntervalMs: 1000 },
  );
}

function reader(): LogReaderDeps {
  return {
    s3: aws.s3,
    doc: aws.doc,
    tableName,
    bucket,
    attemptTokens: () => Promise.resolve(TOKENS),
    now: () => clock.now(),
  };
}

/** Holds the PUTs of keys containing `part` until the returned function is called. */
function holdPuts(part: string): () => void {
  let release = () => {};
  held.set(part, new Promise<void>((resolve) => (release = resolve)));
  return () => {
    held.delete(part);
    release();
  };
}

/** Lets the writers act on what just happened, then waits for index writes they started. */
async function settleIndexWrites(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (indexWritesInFlight > 0) await new Promise<void>((resolve) => indexWritesDone.push(resolve));
}

async function writeLine(w: LogWriter, attempt: string, text: string): Promise<void> {
  const task = { job: "j", node: "n", attempt };
  await w.append({ ...task, token: TOKENS(task), stream: "stdout", text, timeMs: clock.now() });
}

/** Reads every page ascending from `lineId` (inclusive); the rows' texts and ids. */
async function readFrom(
  lineId: string | undefined,
): Promise<{ line: string; lineId: string; job: string; node: string }[]> {
  const rows: { line: string; lineId: string; job: string; node: string }[] = [];
  let cursor = lineId;
  for (;;) {
    const page = await readLogs(reader(), {
      logType: "stdout",
      jobs: ["j"],
      nodes: ["n"],
      sort: "asc",
      ...(cursor === undefined ? {} : { lineId: cursor }),
    });
    rows.push(...page.lines.map(([job, node, , line, id]) => ({ job, node, line, lineId: id })));
    if (page.nextLineId === "-1") return rows;
    cursor = page.nextLineId;
  }
}

describe("a line that becomes readable late", () => {
  test("one writer's lines become readable in id order: paging on from the last line shown skips none", async () => {
    const w = writer("w1", 1);
    // The first segment's PUT is slow; the second one's is not.
    const release = holdPuts("-00000.seg");
    await writeLine(w, "r1.0", "first, slow to upload");
    clock.advance(1000);
    clock.advance(1000);
    await writeLine(w, "r2.0", "second");
    clock.advance(1000);
    await settleIndexWrites();

    // A follow that goes on from one past the last line shown (Bistro's next_line_id use).
    const shown: string[] = [];
    let from: string | undefined;
    const poll = async () => {
      const rows = await readFrom(from);
      shown.push(...rows.map((r) => r.line));
      const last = rows.at(-1);
      if (last) from = (BigInt(last.lineId) + 1n).toString();
    };
    await poll();
    // The second segment is written, but not readable before the first.
    expect(shown).toEqual([]);
    release();
    await w.close();
    await poll();
    expect(shown).toEqual(["first, slow to upload", "second"]);
  });

  test("another writer's line that became readable after newer lines is caught by the follow's window", async () => {
    const slow = writer("w-slow", 1);
    const fast = writer("w-fast", 2);
    const release = holdPuts("w-slow/");
    await writeLine(slow, "r1.0", "older, from the slow worker");
    clock.advance(2000);
    await writeLine(fast, "r2.0", "newer, from the fast worker");
    clock.advance(1000);
    await settleIndexWrites();

    const position = new FollowCursor();
    const shown: string[] = [];
    const poll = async () => {
      for (const row of position.fresh(await readFrom(position.start()))) shown.push(row.line);
    };
    await poll();
    expect(shown).toEqual(["newer, from the fast worker"]);
    release();
    await slow.close();
    await fast.close();
    await poll();
    await poll();
    expect(shown).toEqual(["newer, from the fast worker", "older, from the slow worker"]);
  });
});
