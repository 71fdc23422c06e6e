// The tasks port's reads in the store contract: by key, by job, the jobs with tasks, and paged
// listings (test/contract/store-contract.ts declares them for every adapter).
import { taskId } from "../../lib/model/task";
import type { Lease } from "../../lib/store/lease";
import type { StorePorts } from "../../lib/store/ports";
import type { StartWrite, TaskItem, TaskPageQuery } from "../../lib/store/tasks";
import { commitAccounted, finishOf, storeWithLease, slot, start } from "./task-fixtures";

/** Declares the tests of task reads; `ports()` is the current test's fresh store. */
export function describeTaskReadsContract(ports: () => StorePorts): void {
  describe("tasks: reads", () => {
    let store: StorePorts;
    let lease: Lease;
    beforeEach(async () => ({ store, lease } = await storeWithLease(ports)));
    const commit = (starts: StartWrite[]) => commitAccounted(store, lease, starts);

    it("is empty at first", async () => {
      expect(await store.tasks.readJobsWithTasks()).toEqual([]);
      expect(await store.tasks.readJobTasks("j")).toEqual([]);
      expect(await store.tasks.getTasks([{ job: "j", node: "a" }])).toEqual([]);
      expect(await store.tasks.readCounters()).toEqual(new Map());
      expect(await store.tasks.listTaskPage({ jobs: ["j"], limit: 10 })).toEqual({ tasks: [] });
    });

    it("reads tasks by key (missing left out, repeats once) and by job, in job then node order", async () => {
      await commit([start("k", "b", []), start("j", "b", []), start("j", "a", []), start("m", "z", [])]);
      const byKey = await store.tasks.getTasks([
        { job: "j", node: "b" },
        { job: "j", node: "b" },
        { job: "j", node: "missing" },
        { job: "k", node: "b" },
      ]);
      expect(byKey.map((t) => taskId(t.job, t.node)).sort()).toEqual([taskId("j", "b"), taskId("k", "b")]);
      expect(byKey.find((t) => t.job === "j")).toEqual((await store.tasks.readJobTasks("j"))[1]);
      expect((await store.tasks.readTasks(["k", "j", "nobody"], 1)).map((t) => `${t.job}/${t.node}`)).toEqual([
        "k/b",
        "j/a",
        "j/b",
      ]);
      expect(await store.tasks.readJobsWithTasks()).toEqual(["j", "k", "m"]);
    });

    it("lists every job that had a task started, sorted, and keeps it once its tasks ended", async () => {
      const b = start("b", "n", [slot(1, 10)]);
      await commit([b, start("a", "n", [slot(1, 10)])]);
      expect(await store.tasks.readJobsWithTasks()).toEqual(["a", "b"]);
      await store.tasks.applyFinishes([finishOf(b)]);
      expect(await store.tasks.readJobsWithTasks()).toEqual(["a", "b"]);
      await commit([start("c", "n", [slot(1, 10)]), start("a", "m", [slot(1, 10)])]);
      expect(await store.tasks.readJobsWithTasks()).toEqual(["a", "b", "c"]);
    });

    it("orders nodes as the table does, by their UTF-8 bytes", async () => {
      // UTF-16 would put the emoji (a surrogate pair) before the fullwidth letter; UTF-8 puts it after.
      await commit(["\u{1F600}", "\uFF5A", "z"].map((node) => start("j", node, [])));
      const order = ["z", "\uFF5A", "\u{1F600}"];
      expect((await store.tasks.readJobTasks("j")).map((t) => t.node)).toEqual(order);
      expect((await store.tasks.listTaskPage({ jobs: ["j"], limit: 10 })).tasks.map((t) => t.node)).toEqual(order);
      const first = await store.tasks.listTaskPage({ jobs: ["j"], limit: 2 });
      expect(first.next).toEqual({ job: "j", node: "\uFF5A" });
      const rest = await store.tasks.listTaskPage({ jobs: ["j"], limit: 2, after: first.next! });
      expect(rest).toEqual({ tasks: [expect.objectContaining({ node: "\u{1F600}" })] });
    });

    it("hands out copies: changing a read item changes nothing stored", async () => {
      await commit([start("j", "a", [slot(1, 10)])]);
      const [read] = await store.tasks.readJobTasks("j");
      read!.state = "failed";
      read!.running!.charges.length = 0;
      expect(await store.tasks.readJobTasks("j")).toMatchObject([
        { state: "running", running: { charges: [{ amount: 1 }] } },
      ]);
    });

    describe("listTaskPage", () => {
      const jobs = ["j1", "j2", "j3"];
      const running = ["j1/b", "j1/d", "j2/b", "j2/d", "j3/b", "j3/d"];
      beforeEach(async () => {
        const starts = jobs.flatMap((job) => ["a", "b", "c", "d"].map((node) => start(job, node, [])));
        await commit(starts);
        // Done: a and c of every job.
        await store.tasks.applyFinishes(starts.filter((s) => s.node === "a" || s.node === "c").map((s) => finishOf(s)));
      });
      const keysOf = (tasks: TaskItem[]) => tasks.map((t) => `${t.job}/${t.node}`);
      async function allPages(query: TaskPageQuery): Promise<string[]> {
        const seen: string[] = [];
        let after: TaskPageQuery["after"];
        for (let page = 0; page < 100; page++) {
          const result = await store.tasks.listTaskPage({ ...query, ...(after ? { after } : {}) });
          expect(result.tasks.length).toBeLessThanOrEqual(query.limit);
          seen.push(...keysOf(result.tasks));
          if (!result.next) return seen;
          after = result.next;
        }
        throw new Error("paging did not end");
      }

      it("pages in job then node order, each item once, with a cursor while more follow", async () => {
        const first = await store.tasks.listTaskPage({ jobs, limit: 5 });
        expect(keysOf(first.tasks)).toEqual(["j1/a", "j1/b", "j1/c", "j1/d", "j2/a"]);
        expect(first.next).toEqual({ job: "j2", node: "a" });
        const all = jobs.flatMap((job) => ["a", "b", "c", "d"].map((node) => `${job}/${node}`));
        expect(await allPages({ jobs, limit: 5 })).toEqual(all);
        expect(await allPages({ jobs, limit: 12 })).toEqual(all);
        expect(await allPages({ jobs: ["j2"], limit: 3 })).toEqual(all.filter((k) => k.startsWith("j2/")));
      });

      it("filters by state and by node, paging the same way", async () => {
        expect(await allPages({ jobs, limit: 2, state: "running" })).toEqual(running);
        expect(await allPages({ jobs, limit: 2, node: "c" })).toEqual(["j1/c", "j2/c", "j3/c"]);
        expect(await allPages({ jobs, limit: 1, node: "c", state: "running" })).toEqual([]);
        expect(await allPages({ jobs, limit: 2, node: "b", state: "running" })).toEqual(["j1/b", "j2/b", "j3/b"]);
        const page = await store.tasks.listTaskPage({ jobs, limit: 2, node: "a" });
        expect(page.tasks.map((t) => t.state)).toEqual(["done", "done"]);
        expect(page.next).toEqual({ job: "j2", node: "a" });
      });

      it("ends a page early past its read budget, and the cursor still visits every match once", async () => {
        const early = await store.tasks.listTaskPage({ jobs, limit: 10, state: "failed", scanBudget: 3 });
        expect(early.tasks).toEqual([]);
        expect(early.next).toBeDefined();
        expect(await allPages({ jobs, limit: 10, state: "running", scanBudget: 3 })).toEqual(running);
      });
    });
  });
}
