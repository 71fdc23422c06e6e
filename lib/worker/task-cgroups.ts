// Per-task resource limits with cgroup v2: finds whether the worker's own cgroup is delegated to it
// (cgroup2 mounted, its `cgroup.subtree_control` writable), moves the worker into a leaf beside the
// tasks (v2 lets only leaves hold processes once controllers are enabled below a cgroup), and gives
// each task a child cgroup with `memory.max`, `cpu.weight` and `pids.max`, reaped and removed when
// the task ends. Where that is not possible it says why once, and tasks run without limits.
// The cgroup file system is a parameter (`root`, `fs`), so tests use a temporary directory.
import { constants as fsConstants } from "node:fs";
import { access, mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { retryOnError, retryUntil } from "../retry";

/** What the scheduler asks of one task (the start order's `cgroup`). */
export interface TaskLimits {
  /** `memory.max`, in MB (physical_resources `ram_mb` with enforcement `hard`). */
  memoryMB?: number | undefined;
  /** Relative CPU weight, in cores (physical_resources `cpu_core` with enforcement `soft`). */
  cpuCores?: number | undefined;
}

/** The few file operations used on the cgroup file system. */
export interface CgroupFs {
  read(path: string): Promise<string>;
  write(path: string, data: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  writable(path: string): Promise<boolean>;
}

export const hostCgroupFs: CgroupFs = {
  read: (path) => readFile(path, "utf8"),
  write: (path, data) => writeFile(path, data),
  mkdir: async (path) => {
    await mkdir(path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    });
  },
  rmdir: (path) => rmdir(path),
  writable: (path) =>
    access(path, fsConstants.W_OK).then(
      () => true,
      () => false,
    ),
};

/** Controllers the worker enables for its tasks, when its parent delegated them. */
export const TASK_CONTROLLERS = ["cpu", "memory", "pids"] as const;
/** The leaf the worker moves itself into. */
export const WORKER_LEAF = "sous-worker";
/** Largest `pids.max` accepted (the kernel's own pid limit). */
export const MAX_TASK_PIDS = 4_194_304;

export type CgroupSupport =
  { enforced: true; parent: string; controllers: string[] } | { enforced: false; reason: string };

export interface CgroupSetupOptions {
  /** Where cgroup2 is mounted. Default /sys/fs/cgroup. */
  root?: string;
  /** Where the worker reads its own cgroup. Default /proc/self/cgroup. */
  selfCgroupFile?: string;
  /** The worker's pid, moved to the leaf. Default `process.pid`. */
  pid?: number;
  fs?: CgroupFs;
  /** `pids.max` for every task; default none. */
  pidsMax?: number;
}

/** The memory.max value for `mb` megabytes (Bistro wrote MB into the bytes field; Sous converts). */
export function memoryMaxBytes(mb: number): number {
  return Math.round(mb * 1024 * 1024);
}

/** cpu.weight for `cores`: 100 (the kernel's default) per core, within the kernel's 1..10000. */
export function cpuWeight(cores: number): number {
  return Math.min(10_000, Math.max(1, Math.round(cores * 100)));
}

/** The limit files to write for one task, given what the worker's cgroup enabled. */
export function limitFiles(
  limits: TaskLimits,
  controllers: readonly string[],
  pidsMax: number | undefined,
): [string, string][] {
  const files: [string, string][] = [];
  if (limits.memoryMB !== undefined && limits.memoryMB > 0 && controllers.includes("memory")) {
    files.push(["memory.max", String(memoryMaxBytes(limits.memoryMB))]);
  }
  if (limits.cpuCores !== undefined && controllers.includes("cpu")) {
    files.push(["cpu.weight", String(cpuWeight(limits.cpuCores))]);
  }
  if (pidsMax !== undefined && controllers.includes("pids")) files.push(["pids.max", String(pidsMax)]);
  return files;
}

/** `task-<attempt>`, keeping only characters safe in a directory name. */
export function taskCgroupName(attempt: string): string {
  return `task-${attempt.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200)}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Detects delegation and prepares the worker's cgroup; never throws (an unusable cgroup is a reason). */
export async function setUpTaskCgroups(options: CgroupSetupOptions = {}): Promise<TaskCgroups> {
  const fs = options.fs ?? hostCgroupFs;
  const support = await prepare(fs, options);
  return new TaskCgroups(support, fs, options.pidsMax);
}

async function prepare(fs: CgroupFs, options: CgroupSetupOptions): Promise<CgroupSupport> {
  const root = options.root ?? "/sys/fs/cgroup";
  const selfFile = options.selfCgroupFile ?? "/proc/self/cgroup";
  const no = (reason: string): CgroupSupport => ({ enforced: false, reason });
  let self: string;
  try {
    self = await fs.read(selfFile);
  } catch (error) {
    return no(`cannot read ${selfFile}: ${errorText(error)}`);
  }
  const unified = self.split("\n").find((line) => line.startsWith("0::"));
  if (unified === undefined) return no(`cgroup v2 is not in use (${selfFile} has no "0::" entry)`);
  const path = join(root, unified.slice(3).trim());
  // Already in the leaf (another worker of this process, e.g. `sous local`, set it up): its parent is ours.
  const own = basename(path) === WORKER_LEAF ? dirname(path) : path;
  let available: string[];
  try {
    available = (await fs.read(join(own, "cgroup.controllers"))).trim().split(/\s+/).filter(Boolean);
  } catch {
    return no(`no cgroup v2 file system at ${root} (a cgroup v1 or hybrid host; see --cgroup-root)`);
  }
  if (!(await fs.writable(join(own, "cgroup.subtree_control"))) || !(await fs.writable(join(own, "cgroup.procs")))) {
    return no(`the worker's cgroup ${own} is not delegated to it (cgroup.subtree_control is not writable)`);
  }
  const wanted = TASK_CONTROLLERS.filter((c) => available.includes(c));
  if (wanted.length === 0) return no(`the worker's cgroup ${own} has none of the cpu, memory, pids controllers`);
  // Processes may not sit in a cgroup that enables controllers for its children: the worker moves
  // to a leaf. Other processes are not moved (they are not the worker's to move).
  const leaf = join(own, WORKER_LEAF);
  try {
    await fs.mkdir(leaf);
    if (path !== leaf) await fs.write(join(leaf, "cgroup.procs"), String(options.pid ?? process.pid));
  } catch (error) {
    return no(`cannot move the worker into ${leaf}: ${errorText(error)}`);
  }
  const enabled: string[] = [];
  let refusal = "";
  for (const controller of wanted) {
    try {
      await fs.write(join(own, "cgroup.subtree_control"), `+${controller}`);
      enabled.push(controller);
    } catch (error) {
      refusal = errorText(error);
    }
  }
  if (enabled.length === 0) {
    return no(
      `cannot enable controllers in ${own}/cgroup.subtree_control (${refusal}): other processes share the ` +
        "worker's cgroup; give the worker a cgroup of its own (the systemd unit's Delegate=yes)",
    );
  }
  return { enforced: true, parent: own, controllers: enabled };
}

/** One task's cgroup: where its process goes, and its removal. */
export interface TaskCgroup {
  readonly path: string;
  /** The task's wrapper writes its pid here before it execs the task. */
  readonly procsFile: string;
  /** Kills what is left in it, waits until it is empty, and removes it. */
  remove(pollMs: number): Promise<void>;
}

export class TaskCgroups {
  constructor(
    readonly support: CgroupSupport,
    private readonly fs: CgroupFs,
    private readonly pidsMax: number | undefined,
  ) {}

  /** One line for the worker's log and registration. */
  describe(): string {
    return this.support.enforced
      ? `per-task limits with cgroup v2 under ${this.support.parent} (${this.support.controllers.join(", ")})`
      : `per-task limits are not enforced: ${this.support.reason}`;
  }

  /**
   * The cgroup for one attempt with its limits written, or undefined when limits are not enforced
   * here. Throws when it cannot be made (the task then fails to start rather than run unlimited).
   */
  async create(attempt: string, limits: TaskLimits): Promise<TaskCgroup | undefined> {
    if (!this.support.enforced) return undefined;
    const path = join(this.support.parent, taskCgroupName(attempt));
    await this.fs.mkdir(path);
    const cgroup = new OneTaskCgroup(this.fs, path);
    try {
      for (const [file, value] of limitFiles(limits, this.support.controllers, this.pidsMax)) {
        await this.fs.write(join(path, file), value);
      }
    } catch (error) {
      await cgroup.remove(1).catch(() => undefined);
      throw new Error(`Failed to set the task's cgroup limits in ${path}: ${errorText(error)}`, { cause: error });
    }
    return cgroup;
  }
}

/** How many times removal is retried while the kernel still counts exited members. */
const REMOVE_ATTEMPTS = 20;

class OneTaskCgroup implements TaskCgroup {
  readonly procsFile: string;

  constructor(
    private readonly fs: CgroupFs,
    readonly path: string,
  ) {
    this.procsFile = join(path, "cgroup.procs");
  }

  private async members(): Promise<number[]> {
    const text = await this.fs.read(this.procsFile).catch(() => "");
    return text
      .split("\n")
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  }

  private async kill(members: readonly number[]): Promise<void> {
    const killed = await this.fs.write(join(this.path, "cgroup.kill"), "1").then(
      () => true,
      () => false, // before Linux 5.14: signal each member
    );
    if (killed) return;
    for (const pid of members) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
  }

  async remove(pollMs: number): Promise<void> {
    // Descendants that left the task's process group (setsid) are still here: they go too.
    // Kill and look again (waits growing up to 1 s) until the cgroup is empty, however long it takes.
    const pollBase = Math.max(1, pollMs);
    await retryUntil(
      async () => {
        const members = await this.members();
        if (members.length > 0) await this.kill(members);
        return members.length === 0;
      },
      { attempts: Infinity, baseMs: pollBase, capMs: 1000 },
    );
    await retryOnError(
      () => this.fs.rmdir(this.path),
      (error) => (error as NodeJS.ErrnoException).code === "EBUSY",
      { attempts: REMOVE_ATTEMPTS, baseMs: pollBase, capMs: 250 },
    ).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    });
  }
}
