// Per-task cgroup v2 limits (lib/worker/task-cgroups.ts) on a temporary directory standing in for
// the cgroup file system: delegation detected or refused with a reason, the worker moved to its
// leaf, controllers enabled, limit files written with their units mapped, the task joining its
// cgroup before it runs, leftovers killed and the cgroup removed; and the start order's request
// computed from physical_resources enforcement.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { MAX_TASK_MEMORY_MB, startMessageSchema } from "../../lib/dispatch/messages";
import { buildStartMessage, taskCgroupRequest } from "../../lib/round/start-message";
import {
  cpuWeight,
  hostCgroupFs,
  limitFiles,
  memoryMaxBytes,
  setUpTaskCgroups,
  taskCgroupName,
  type CgroupFs,
} from "../../lib/worker/task-cgroups";
import { runTask } from "../../lib/worker/task-process";
import { compileWorkerOptions, WorkerOptionsError } from "../../lib/worker/worker-options";
import { configDocument, parseValid } from "../helpers/config";
import { makeJob } from "../helpers/model";

const FIXTURES = join(__dirname, "..", "fixtures", "tasks");
const SERVICE = "system.slice/sous-worker.service";
let dir: string;
let root: string;
let own: string;
let selfFile: string;
let writes: [string, string][];

/** The host's fs on the temporary tree, recording writes; rmdir drops the files, as cgroupfs does. */
function recordingFs(overrides: Partial<CgroupFs> = {}): CgroupFs {
  return {
    ...hostCgroupFs,
    write: async (path, data) => {
      writes.push([path.slice(root.length), data]);
      await hostCgroupFs.write(path, data);
    },
    rmdir: (path) => rm(path, { recursive: true }),
    ...overrides,
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sous-cgroup-"));
  root = join(dir, "cgroup");
  own = join(root, SERVICE);
  mkdirSync(own, { recursive: true });
  writeFileSync(join(own, "cgroup.controllers"), "cpuset cpu io memory pids\n");
  writeFileSync(join(own, "cgroup.subtree_control"), "");
  writeFileSync(join(own, "cgroup.procs"), "4242\n");
  selfFile = join(dir, "self-cgroup");
  writeFileSync(selfFile, `0::/${SERVICE}\n`);
  writes = [];
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("value mapping", () => {
  it("memory MB become bytes, cores become a cpu.weight within 1..10000", () => {
    expect(memoryMaxBytes(512)).toBe(536_870_912);
    expect(cpuWeight(1)).toBe(100);
    expect(cpuWeight(2.5)).toBe(250);
    expect(cpuWeight(0)).toBe(1);
    expect(cpuWeight(1000)).toBe(10_000);
  });

  it("writes only the limits whose controller is enabled", () => {
    const limits = { memoryMB: 100, cpuCores: 2 };
    expect(limitFiles(limits, ["cpu", "memory", "pids"], 64)).toEqual([
      ["memory.max", "104857600"],
      ["cpu.weight", "200"],
      ["pids.max", "64"],
    ]);
    expect(limitFiles(limits, ["pids"], undefined)).toEqual([]);
    expect(limitFiles({}, ["cpu", "memory"], undefined)).toEqual([]);
  });

  it("names a task's cgroup safely after its attempt", () => {
    expect(taskCgroupName("r12-3")).toBe("task-r12-3");
    expect(taskCgroupName("a/../b c")).toBe("task-a_.._b_c");
  });
});

describe("a delegated cgroup", () => {
  it("moves the worker to a leaf, enables the controllers, and writes each task's limits", async () => {
    const cgroups = await setUpTaskCgroups({
      root,
      selfCgroupFile: selfFile,
      pid: 4242,
      fs: recordingFs(),
      pidsMax: 500,
    });
    expect(cgroups.support).toEqual({ enforced: true, parent: own, controllers: ["cpu", "memory", "pids"] });
    expect(cgroups.describe()).toBe(`per-task limits with cgroup v2 under ${own} (cpu, memory, pids)`);
    const leaf = `/${SERVICE}/sous-worker/cgroup.procs`;
    expect(writes).toEqual([
      [leaf, "4242"],
      [`/${SERVICE}/cgroup.subtree_control`, "+cpu"],
      [`/${SERVICE}/cgroup.subtree_control`, "+memory"],
      [`/${SERVICE}/cgroup.subtree_control`, "+pids"],
    ]);

    writes = [];
    const cgroup = await cgroups.create("r7-0", { memoryMB: 256, cpuCores: 3 });
    expect(cgroup?.path).toBe(join(own, "task-r7-0"));
    expect(cgroup?.procsFile).toBe(join(own, "task-r7-0", "cgroup.procs"));
    const task = join(own, "task-r7-0");
    expect(readFileSync(join(task, "memory.max"), "utf8")).toBe("268435456");
    expect(readFileSync(join(task, "cpu.weight"), "utf8")).toBe("300");
    expect(readFileSync(join(task, "pids.max"), "utf8")).toBe("500");

    await cgroup?.remove(1);
    expect(existsSync(task)).toBe(false);
  });

  it("kills what is left in a task's cgroup before removing it", async () => {
    const fs = recordingFs({
      write: async (path, data) => {
        writes.push([path.slice(root.length), data]);
        await hostCgroupFs.write(path, data);
        // The kernel kills the members and empties the list.
        if (path.endsWith("cgroup.kill")) writeFileSync(join(path, "..", "cgroup.procs"), "");
      },
    });
    const cgroups = await setUpTaskCgroups({ root, selfCgroupFile: selfFile, pid: 4242, fs });
    const cgroup = (await cgroups.create("r1-0", {}))!;
    writeFileSync(cgroup.procsFile, "31337\n"); // a descendant that left the task's process group
    writes = [];
    await cgroup.remove(1);
    expect(writes).toEqual([[`/${SERVICE}/task-r1-0/cgroup.kill`, "1"]]);
    expect(existsSync(cgroup.path)).toBe(false);
  });

  it("a limit that cannot be written fails the task's cgroup and leaves nothing behind", async () => {
    const fs = recordingFs({
      write: (path, data) =>
        path.endsWith("memory.max") ? Promise.reject(new Error("EINVAL")) : hostCgroupFs.write(path, data),
    });
    const cgroups = await setUpTaskCgroups({ root, selfCgroupFile: selfFile, pid: 4242, fs });
    await expect(cgroups.create("r2-0", { memoryMB: 1 })).rejects.toThrow(/memory.max|EINVAL/);
    expect(existsSync(join(own, "task-r2-0"))).toBe(false);
  });

  it("a task joins its cgroup before it runs, and the cgroup is gone when its result arrives", async () => {
    const cgroups = await setUpTaskCgroups({ root, selfCgroupFile: selfFile, pid: 4242, fs: recordingFs() });
    let procsFile = "";
    let joined = "";
    const result = await runTask({
      jobName: "j",
      nodeName: "n",
      jobJson: "{}",
      jobCommand: [join(FIXTURES, "demo_bistro_task.sh")],
      workerCommand: "",
      attempt: "r3-0",
      workerId: "w",
      dataDir: dir,
      subprocess: { pollMs: 10, maxLogLinesPerPollInterval: 0, useCanaryPipe: true },
      onOutput: () => undefined,
      cgroup: async () => {
        const cgroup = (await cgroups.create("r3-0", { memoryMB: 64 }))!;
        procsFile = cgroup.procsFile;
        return {
          path: cgroup.path,
          procsFile: cgroup.procsFile,
          remove: (pollMs) => {
            joined = readFileSync(procsFile, "utf8");
            writeFileSync(procsFile, ""); // the task exited: the kernel lists nobody
            return cgroup.remove(pollMs);
          },
        };
      },
    }).result;
    expect(result.rawStatus).toBe("done");
    expect(joined.trim()).toBe(String(result.pid)); // the wrapper wrote its pid, then exec'd the task
    expect(existsSync(join(own, "task-r3-0"))).toBe(false);
  });

  it("a task whose cgroup cannot be made does not start", async () => {
    const result = await runTask({
      jobName: "j",
      nodeName: "n",
      jobJson: "{}",
      jobCommand: [join(FIXTURES, "demo_bistro_task.sh")],
      workerCommand: "",
      attempt: "r4-0",
      workerId: "w",
      dataDir: dir,
      subprocess: { pollMs: 10, maxLogLinesPerPollInterval: 0, useCanaryPipe: true },
      onOutput: () => undefined,
      cgroup: () => Promise.reject(new Error("EACCES")),
    }).result;
    expect(result.pid).toBeNull();
    expect(result.spawnError).toBe("Failed to make the task's cgroup: EACCES");
  });
});

describe("where limits cannot be enforced, it says why and enforces nothing", () => {
  async function reason(options: Parameters<typeof setUpTaskCgroups>[0]): Promise<string> {
    const cgroups = await setUpTaskCgroups({
      root,
      selfCgroupFile: selfFile,
      pid: 4242,
      fs: recordingFs(),
      ...options,
    });
    expect(cgroups.support.enforced).toBe(false);
    expect(await cgroups.create("r1-0", { memoryMB: 10 })).toBeUndefined();
    expect(writes).toEqual([]);
    return cgroups.describe();
  }

  it("a cgroup not delegated to the worker (subtree_control not writable)", async () => {
    const fs = recordingFs({ writable: (path) => Promise.resolve(!path.endsWith("cgroup.subtree_control")) });
    expect(await reason({ fs })).toBe(
      `per-task limits are not enforced: the worker's cgroup ${own} is not delegated to it (cgroup.subtree_control is not writable)`,
    );
  });

  it("a cgroup v1 host", async () => {
    writeFileSync(selfFile, "4:memory:/x\n1:cpu:/\n");
    expect(await reason({})).toMatch(/cgroup v2 is not in use/);
  });

  it("no cgroup2 file system at the root", async () => {
    expect(await reason({ root: join(dir, "elsewhere") })).toMatch(/no cgroup v2 file system at .*elsewhere/);
  });

  it("no controller delegated", async () => {
    writeFileSync(join(own, "cgroup.controllers"), "io\n");
    expect(await reason({})).toMatch(/none of the cpu, memory, pids controllers/);
  });

  it("other processes share the worker's cgroup", async () => {
    const fs = recordingFs({
      write: (path, data) =>
        path.endsWith("subtree_control") ? Promise.reject(new Error("EBUSY")) : hostCgroupFs.write(path, data),
    });
    const cgroups = await setUpTaskCgroups({ root, selfCgroupFile: selfFile, pid: 4242, fs });
    expect(cgroups.describe()).toMatch(/\(EBUSY\): other processes share the worker's cgroup; .*Delegate=yes/);
  });

  it("a second worker of the same process finds the leaf already set up", async () => {
    await setUpTaskCgroups({ root, selfCgroupFile: selfFile, pid: 4242, fs: recordingFs() });
    writeFileSync(selfFile, `0::/${SERVICE}/sous-worker\n`); // where the kernel now says we are
    writes = [];
    const second = await setUpTaskCgroups({ root, selfCgroupFile: selfFile, pid: 4242, fs: recordingFs() });
    expect(second.support).toMatchObject({ enforced: true, parent: own });
    expect(writes.filter(([path]) => path.endsWith("cgroup.procs"))).toEqual([]);
  });

  it("the worker cannot leave its cgroup", async () => {
    const fs = recordingFs({ write: () => Promise.reject(new Error("EACCES")) });
    expect(await reason({ fs })).toMatch(/cannot move the worker into .*sous-worker: EACCES/);
  });
});

describe("worker options", () => {
  const base = { id: "w", command: "/bin/true", dataDir: "/tmp/x" };
  it("default to /sys/fs/cgroup; null turns limits off", () => {
    expect(compileWorkerOptions(base).cgroupRoot).toBe("/sys/fs/cgroup");
    expect(compileWorkerOptions({ ...base, cgroupRoot: null }).cgroupRoot).toBeNull();
  });
  it.each([
    [{ cgroupRoot: "relative/path" }, /cgroupRoot/],
    [{ taskPidsMax: 0 }, /taskPidsMax/],
    [{ taskPidsMax: 4_194_305 }, /taskPidsMax/],
  ])("refuses %j", (bad, message) => {
    expect(() => compileWorkerOptions({ ...base, ...bad })).toThrow(WorkerOptionsError);
    expect(() => compileWorkerOptions({ ...base, ...bad })).toThrow(message);
  });
});

describe("the start order's cgroup request", () => {
  function physicalSettings(physical: Record<string, unknown>) {
    return parseValid(
      configDocument(
        {},
        {
          enabled: true,
          nodes: { levels: ["db"], node_sources: [] },
          resources: { worker: { cores: { default: 1, limit: 8 }, ram: { default: 1, limit: 64 } } },
          physical_resources: physical,
        },
      ),
    ).settings.physicalResources;
  }
  const hard = {
    ram_mb: { logical_resource: "ram", multiply_logical_by: 1024, enforcement: "hard" },
    cpu_core: { logical_resource: "cores", enforcement: "soft" },
  };

  it("maps enforced physical resources through the job's amounts on its worker", () => {
    expect(taskCgroupRequest(makeJob("j"), physicalSettings(hard), { ram: 2, cores: 3 })).toEqual({
      memoryMB: 2048,
      cpuCores: 3,
    });
  });

  it("asks for nothing without enforcement or subsystems, and for a bare cgroup with subsystems", () => {
    const none = physicalSettings({ ram_mb: { logical_resource: "ram" } });
    expect(taskCgroupRequest(makeJob("j"), none, { ram: 2 })).toBeUndefined();
    const job = makeJob("j");
    job.taskSubprocess.cgroups.subsystems = ["cpu", "memory"];
    expect(taskCgroupRequest(job, none, { ram: 2 })).toEqual({});
  });

  it("sets no memory limit for a zero amount, and caps what a start order may carry", () => {
    expect(taskCgroupRequest(makeJob("j"), physicalSettings(hard), { ram: 0, cores: 0 })).toEqual({ cpuCores: 0 });
    const huge = physicalSettings({
      ram_mb: { logical_resource: "ram", multiply_logical_by: 1e9, enforcement: "hard" },
    });
    expect(taskCgroupRequest(makeJob("j"), huge, { ram: 64 })).toEqual({ memoryMB: MAX_TASK_MEMORY_MB });
  });

  it("travels in the start order the worker accepts", () => {
    const order = buildStartMessage({
      job: makeJob("j"),
      node: "n",
      attempt: "a",
      token: "t",
      workerId: "w1",
      workerInstance: "i",
      workerHost: "h",
      listDeadlineMs: 1_000,
      pathToNode: ["instance", "n"],
      resourcesByNode: { w1: { ram: 1, cores: 2 } },
      previous: undefined,
      physicalResources: physicalSettings(hard),
    });
    expect(order.cgroup).toEqual({ memoryMB: 1024, cpuCores: 2 });
    expect(startMessageSchema.parse(order).cgroup).toEqual({ memoryMB: 1024, cpuCores: 2 });
    expect(startMessageSchema.safeParse({ ...order, cgroup: { memoryMB: MAX_TASK_MEMORY_MB + 1 } }).success).toBe(
      false,
    );
  });
});
