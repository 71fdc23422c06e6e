// Statuses and backoff: parsing status lines, bits and labels, the JSON
// form, the backoff ladder, finishing attempts, the update rules, and forgiving.
import type { BackoffSettings } from "../../lib/model/config";
import {
  StatusBits,
  StatusValues,
  isInBackoff,
  statusLabel,
  toStatusJson,
  type BackoffStep,
  type ReportedStatus,
  type TaskStatus,
} from "../../lib/model/status";
import { WORKER_LOST_SAFETY_BACKOFF_SEC, backoffAtStart, finishTask, nextBackoff } from "../../lib/scheduler/backoff";
import {
  decideStatusUpdate,
  errorBackoff,
  forgive,
  neverStarted,
  parseStatusLine,
  wasNotRunning,
  workerLost,
} from "../../lib/scheduler/status";

const NOT_KILLED = { killed: false };

function exceptionOf(status: ReportedStatus): string {
  const exception = status.data?.exception;
  if (typeof exception !== "string") throw new Error(`no exception in ${JSON.stringify(status)}`);
  return exception;
}

describe("parsing a status line", () => {
  it.each([
    ["done", StatusValues.DONE],
    ["incomplete", StatusValues.INCOMPLETE],
    ["incomplete_backoff", 584],
    ["backoff", 96],
    ["error_backoff", 96],
    ["failed", 16],
  ])("the exact label %s has bits %d", (line, bits) => {
    expect(parseStatusLine(line, NOT_KILLED)).toEqual({ bits });
  });

  it("does not trim labels: surrounding spaces make the line unparseable", () => {
    const status = parseStatusLine("done ", NOT_KILLED);
    expect(status.bits).toBe(StatusValues.ERROR_BACKOFF);
    expect(exceptionOf(status)).toMatch(/^Cannot parse status: done , /);
  });

  it("reads a JSON result label with its data, dropping the private saved-backoff key", () => {
    const line = JSON.stringify({ result: "done", data: { rows: 3, __bistro_saved_backoff: 99 }, time: 1 });
    expect(parseStatusLine(line, NOT_KILLED)).toEqual({ bits: StatusBits.DONE, data: { rows: 3 } });
  });

  it("drops empty data", () => {
    expect(parseStatusLine('{"result":"incomplete","data":{}}', NOT_KILLED)).toEqual({ bits: 8 });
    expect(parseStatusLine('{"result":"done","data":{"__bistro_saved_backoff":1}}', NOT_KILLED)).toEqual({
      bits: 4,
    });
  });

  it("accepts valid result_bits, including overwriteable ones, with data", () => {
    expect(parseStatusLine('{"result_bits":1056}', NOT_KILLED)).toEqual({ bits: 1056 });
    expect(parseStatusLine('{"result_bits":584,"data":{"k":"v"}}', NOT_KILLED)).toEqual({
      bits: 584,
      data: { k: "v" },
    });
    // result_bits wins over result.
    expect(parseStatusLine('{"result_bits":4,"result":"failed"}', NOT_KILLED)).toEqual({ bits: 4 });
  });

  it.each([
    ['{"result_bits":"bad"}', /must be an integer/],
    ['{"result_bits":[]}', /must be an integer/],
    ['{"result_bits":0}', /Set exactly one required bit/],
    ['{"result_bits":12}', /Set exactly one required bit/],
    ['{"result_bits":1}', /Don't report Unstarted, Avoided, Disabled, or HasSavedBackoff bits/],
    ['{"result_bits":132}', /Don't report Unstarted/],
    ['{"result_bits":260}', /Don't report Unstarted/],
    ['{"result_bits":3168}', /Don't report Unstarted/],
    ['{"result_bits":4100}', /unknown bit/],
    ['{"result_bits":2}', /cannot report Running/],
    ['{"result_bits":72}', /UsesBackoff without Error/],
  ])("rejects %s as error_backoff", (line, reason) => {
    const status = parseStatusLine(line, NOT_KILLED);
    expect(status.bits).toBe(StatusValues.ERROR_BACKOFF);
    expect(exceptionOf(status)).toMatch(/^Cannot parse status: /);
    expect(exceptionOf(status)).toMatch(reason);
  });

  it.each([
    ["", /^Cannot parse status: , /],
    ["foo", /^Cannot parse status: foo, /],
    ["{}", /Need a valid "result" or "result_bits" key/],
    ['{"result":"bogus"}', /Need a valid "result"/],
    ['{"result":4}', /Need a valid "result"/],
    ['"done"', /label or a JSON object/],
    ['{"result":"done","data":"text"}', /"data" must be an object/],
    ['{"result":"done","data":null}', /"data" must be an object/],
  ])("turns %j into error_backoff with the reason", (line, reason) => {
    const status = parseStatusLine(line, NOT_KILLED);
    expect(status.bits).toBe(StatusValues.ERROR_BACKOFF);
    expect(exceptionOf(status)).toMatch(reason);
  });

  it("no status line is error_backoff 'Failed to read a status'", () => {
    expect(parseStatusLine(undefined, NOT_KILLED)).toEqual({
      bits: 96,
      data: { exception: "Failed to read a status" },
    });
  });

  it("no status line after a kill is incomplete_backoff, which consumes no retry", () => {
    expect(parseStatusLine(undefined, { killed: true })).toEqual({
      bits: 584,
      data: { exception: "Task killed, no status returned" },
    });
  });

  it("a kill does not change a status the task did write", () => {
    expect(parseStatusLine("done", { killed: true })).toEqual({ bits: 4 });
  });
});

describe("bits, labels and the status JSON", () => {
  it("names the statuses", () => {
    expect(statusLabel(2)).toBe("running");
    expect(statusLabel(4)).toBe("done");
    expect(statusLabel(8)).toBe("incomplete");
    expect(statusLabel(584)).toBe("incomplete_backoff");
    expect(statusLabel(96)).toBe("error_backoff");
    expect(statusLabel(80)).toBe("failed");
    expect(statusLabel(16)).toBe("failed");
    expect(statusLabel(32)).toBe("error");
    expect(statusLabel(1056)).toBe("error");
    expect(statusLabel(3168)).toBe("error_backoff");
    expect(statusLabel(1)).toBe("unstarted");
  });

  it("has Bistro's values for the synthetic statuses", () => {
    expect(neverStarted("no").bits).toBe(32);
    expect(wasNotRunning().bits).toBe(1056);
    expect(workerLost("w").bits).toBe(3168);
    expect(errorBackoff("x")).toEqual({ bits: 96, data: { exception: "x" } });
  });

  it("serializes result_bits, data, time, and backoff_duration only when backing off", () => {
    expect(toStatusJson({ bits: 4, timeSec: 100, backoffSec: 0 })).toEqual({ result_bits: 4, time: 100 });
    expect(toStatusJson({ bits: 96, timeSec: 100, backoffSec: 15, data: { exception: "e" } })).toEqual({
      result_bits: 96,
      data: { exception: "e" },
      time: 100,
      backoff_duration: 15,
    });
    // A forgiven backoff (0) is not exported.
    expect(toStatusJson({ bits: 96, timeSec: 100, backoffSec: 0 })).toEqual({ result_bits: 96, time: 100 });
  });

  it("exports a lost worker's saved backoff inside data, as Bistro does", () => {
    const lost = finishTask({
      previous: undefined,
      nextBackoff: { noMoreBackoffs: false, seconds: 15 },
      reported: workerLost("w1"),
      nowSec: 1000,
    });
    expect(toStatusJson(lost)).toEqual({
      result_bits: 3168,
      data: {
        worker_shard: "w1",
        exception: "Remote worker lost (crashed? network down?)",
        __bistro_saved_backoff: 15,
      },
      time: 1000,
      backoff_duration: 66,
    });
  });
});

describe("the backoff ladder", () => {
  const ladder: BackoffSettings = { values: [5, 15, 60], end: "fail" };

  it("next() is the first value strictly above the current one", () => {
    expect(nextBackoff(ladder, 0)).toEqual({ noMoreBackoffs: false, seconds: 5 });
    expect(nextBackoff(ladder, 5)).toEqual({ noMoreBackoffs: false, seconds: 15 });
    expect(nextBackoff(ladder, 7)).toEqual({ noMoreBackoffs: false, seconds: 15 });
    expect(nextBackoff(ladder, 15)).toEqual({ noMoreBackoffs: false, seconds: 60 });
  });

  it('past the end, "fail" means no more backoffs (60 s for incomplete_backoff) and "repeat" keeps the last', () => {
    expect(nextBackoff(ladder, 60)).toEqual({ noMoreBackoffs: true, seconds: 60 });
    expect(nextBackoff({ values: [5, 15, 60], end: "repeat" }, 60)).toEqual({ noMoreBackoffs: false, seconds: 60 });
    expect(nextBackoff({ values: [], end: "fail" }, 0)).toEqual({ noMoreBackoffs: true, seconds: 60 });
  });

  it("a never-run task and a task after done/incomplete start from the first value", () => {
    expect(backoffAtStart(ladder, undefined)).toEqual({ noMoreBackoffs: false, seconds: 5 });
    expect(backoffAtStart(ladder, { bits: 8, timeSec: 1, backoffSec: 0 })).toEqual({
      noMoreBackoffs: false,
      seconds: 5,
    });
  });

  /** Runs attempts in sequence, each starting when the previous backoff ends. */
  function runAttempts(settings: BackoffSettings, reports: ReportedStatus[]): TaskStatus[] {
    const history: TaskStatus[] = [];
    let previous: TaskStatus | undefined;
    let now = 1000;
    for (const reported of reports) {
      const step = backoffAtStart(settings, previous);
      previous = finishTask({ previous, nextBackoff: step, reported, nowSec: now });
      history.push(previous);
      now += previous.backoffSec + 1;
    }
    return history;
  }

  it("[5, 15, 60]: failures back off 5, 15, 60 s and the 4th failure is permanent (bits 80)", () => {
    const history = runAttempts(ladder, Array(4).fill(errorBackoff("boom")) as ReportedStatus[]);
    expect(history.map((s) => [s.bits, s.backoffSec])).toEqual([
      [96, 5],
      [96, 15],
      [96, 60],
      [80, 60],
    ]);
    expect(statusLabel(history[3]!.bits)).toBe("failed");
  });

  it('["fail"]: the first error is permanent', () => {
    const [status] = runAttempts({ values: [], end: "fail" }, [errorBackoff("boom")]);
    expect(status!.bits).toBe(StatusValues.FAILED_BACKOFF_EXHAUSTED);
  });

  it('"repeat" never fails', () => {
    const history = runAttempts(
      { values: [5, 15], end: "repeat" },
      Array(6).fill(errorBackoff("e")) as ReportedStatus[],
    );
    expect(history.map((s) => s.backoffSec)).toEqual([5, 15, 15, 15, 15, 15]);
    expect(history.every((s) => s.bits === 96)).toBe(true);
  });

  it("incomplete and done restart the ladder", () => {
    const history = runAttempts(ladder, [errorBackoff("e"), errorBackoff("e"), { bits: 8 }, errorBackoff("e")]);
    expect(history.map((s) => s.backoffSec)).toEqual([5, 15, 0, 5]);
    const afterDone = runAttempts(ladder, [errorBackoff("e"), { bits: 4 }]);
    expect(afterDone[1]).toMatchObject({ bits: 4, backoffSec: 0 });
  });

  it("incomplete_backoff repeats the previous backoff, never fails, and starts at the first value", () => {
    const incompleteBackoff: ReportedStatus = { bits: StatusValues.INCOMPLETE_BACKOFF };
    const fresh = runAttempts(ladder, [incompleteBackoff, incompleteBackoff]);
    expect(fresh.map((s) => s.backoffSec)).toEqual([5, 5]);
    const afterErrors = runAttempts(ladder, [
      errorBackoff("e"),
      errorBackoff("e"),
      errorBackoff("e"),
      incompleteBackoff,
      incompleteBackoff,
    ]);
    expect(afterErrors.map((s) => [s.bits, s.backoffSec])).toEqual([
      [96, 5],
      [96, 15],
      [96, 60],
      [584, 60],
      [584, 60],
    ]);
  });

  it("in backoff while time + backoff is ahead of now (whole seconds)", () => {
    const status: TaskStatus = { bits: 96, timeSec: 100, backoffSec: 5 };
    expect(isInBackoff(status, 100)).toBe(true);
    expect(isInBackoff(status, 104)).toBe(true);
    expect(isInBackoff(status, 104.9)).toBe(true);
    expect(isInBackoff(status, 105)).toBe(false);
    expect(isInBackoff({ bits: 8, timeSec: 100, backoffSec: 5 }, 100)).toBe(false);
  });

  it("never-started and was-not-running neither use nor advance backoff", () => {
    const previous: TaskStatus = { bits: 96, timeSec: 10, backoffSec: 15 };
    const step: BackoffStep = { noMoreBackoffs: false, seconds: 60 };
    const status = finishTask({ previous, nextBackoff: step, reported: neverStarted("refused"), nowSec: 50 });
    expect(status).toEqual({ bits: 32, timeSec: 50, backoffSec: 0, data: { exception: "refused" } });
    expect(isInBackoff(status, 50)).toBe(false);
  });

  it("stores the finish time in whole seconds", () => {
    const status = finishTask({
      previous: undefined,
      nextBackoff: { noMoreBackoffs: false, seconds: 5 },
      reported: { bits: 4 },
      nowSec: 1234.9,
    });
    expect(status.timeSec).toBe(1234);
  });
});

describe("a lost worker's tasks", () => {
  it("back off at least 66 s but keep the job's own step for the ladder", () => {
    const ladder: BackoffSettings = { values: [5, 15, 60, 300], end: "fail" };
    const lost = finishTask({
      previous: undefined,
      nextBackoff: backoffAtStart(ladder, undefined),
      reported: workerLost("w1"),
      nowSec: 1000,
    });
    expect(WORKER_LOST_SAFETY_BACKOFF_SEC).toBe(66);
    expect(lost).toMatchObject({ bits: 3168, backoffSec: 66, savedBackoffSec: 5 });
    expect(isInBackoff(lost, 1065)).toBe(true);
    expect(isInBackoff(lost, 1066)).toBe(false);
    // The next attempt continues the ladder from 5, not from 66.
    expect(backoffAtStart(ladder, lost)).toEqual({ noMoreBackoffs: false, seconds: 15 });
  });

  it("keep a longer job backoff as is", () => {
    const lost = finishTask({
      previous: undefined,
      nextBackoff: { noMoreBackoffs: false, seconds: 300 },
      reported: workerLost("w1"),
      nowSec: 0,
    });
    expect(lost).toMatchObject({ backoffSec: 300, savedBackoffSec: 300 });
  });

  it("become failed when the ladder is exhausted, still waiting the safety backoff", () => {
    const lost = finishTask({
      previous: undefined,
      nextBackoff: { noMoreBackoffs: true, seconds: 60 },
      reported: workerLost("w1"),
      nowSec: 0,
    });
    expect(lost.bits).toBe(StatusBits.FAILED | StatusBits.USES_BACKOFF | StatusBits.OVERWRITEABLE | 2048);
    expect(lost.backoffSec).toBe(66);
  });

  it("an incomplete_backoff replacing a lost status backs off the saved value", () => {
    const lost: TaskStatus = { bits: 3168, timeSec: 0, backoffSec: 66, savedBackoffSec: 15 };
    const status = finishTask({
      previous: lost,
      nextBackoff: { noMoreBackoffs: false, seconds: 15 },
      reported: { bits: StatusValues.INCOMPLETE_BACKOFF },
      nowSec: 10,
    });
    expect(status).toEqual({ bits: 584, timeSec: 10, backoffSec: 15 });
  });
});

describe("status update rules", () => {
  const errorStored: TaskStatus = { bits: 96, timeSec: 1, backoffSec: 15 };
  const lostStored: TaskStatus = { bits: 3168, timeSec: 1, backoffSec: 66, savedBackoffSec: 15 };

  it("a status of the running attempt finishes it", () => {
    expect(decideStatusUpdate({ runningAttemptId: "a1" }, { attemptId: "a1", bits: 4 })).toEqual({ action: "finish" });
  });

  it("a status of another attempt while one runs is refused loudly (double start)", () => {
    const decision = decideStatusUpdate({ runningAttemptId: "a2" }, { attemptId: "a1", bits: 4 });
    expect(decision).toMatchObject({ action: "ignore" });
    expect(decision.action === "ignore" && decision.reason).toMatch(/double start/);
  });

  it("a real status replaces a stored overwriteable one (the lost-worker race)", () => {
    expect(decideStatusUpdate({ stored: lostStored }, { attemptId: "a1", bits: 4 })).toEqual({ action: "replace" });
    expect(
      decideStatusUpdate({ stored: { bits: 1056, timeSec: 1, backoffSec: 0 } }, { attemptId: "a1", bits: 96 }),
    ).toEqual({ action: "replace" });
  });

  it("an overwriteable status never replaces a stored one", () => {
    expect(decideStatusUpdate({ stored: errorStored }, { attemptId: "a1", bits: 1056 })).toMatchObject({
      action: "ignore",
    });
    expect(decideStatusUpdate({ stored: lostStored }, { attemptId: "a1", bits: 1056 })).toMatchObject({
      action: "ignore",
    });
  });

  it("a duplicate status for a task already not running is dropped, so it consumes no second retry", () => {
    expect(decideStatusUpdate({ stored: errorStored }, { attemptId: "a1", bits: 96 })).toMatchObject({
      action: "ignore",
    });
    expect(decideStatusUpdate({}, { attemptId: "a1", bits: 4 })).toMatchObject({ action: "ignore" });
  });
});

describe("forgive", () => {
  it("turns failed into error and clears the backoff so the task may run now and the ladder restarts", () => {
    const ladder: BackoffSettings = { values: [5, 15, 60], end: "fail" };
    const failed: TaskStatus = { bits: 80, timeSec: 100, backoffSec: 60, data: { exception: "x" } };
    const forgiven = forgive(failed);
    expect(forgiven).toEqual({ bits: 96, timeSec: 100, backoffSec: 0, data: { exception: "x" } });
    expect(isInBackoff(forgiven, 100)).toBe(false);
    expect(backoffAtStart(ladder, forgiven)).toEqual({ noMoreBackoffs: false, seconds: 5 });
  });

  it("turns a reported failure into a plain error", () => {
    expect(forgive({ bits: 16, timeSec: 1, backoffSec: 0 })).toEqual({ bits: 32, timeSec: 1, backoffSec: 0 });
  });

  it("clears an error backoff", () => {
    expect(isInBackoff(forgive({ bits: 96, timeSec: 100, backoffSec: 30 }), 100)).toBe(false);
  });

  it("keeps a lost worker's safety backoff and zeroes only its saved value", () => {
    const lost: TaskStatus = { bits: 3152, timeSec: 100, backoffSec: 66, savedBackoffSec: 60 };
    const forgiven = forgive(lost);
    expect(forgiven).toEqual({ bits: 3168, timeSec: 100, backoffSec: 66, savedBackoffSec: 0 });
    expect(isInBackoff(forgiven, 165)).toBe(true);
    expect(backoffAtStart({ values: [5, 15], end: "fail" }, forgiven)).toEqual({ noMoreBackoffs: false, seconds: 5 });
  });

  it("leaves done and incomplete alone", () => {
    const done: TaskStatus = { bits: 4, timeSec: 1, backoffSec: 0 };
    expect(forgive(done)).toEqual(done);
  });
});
