// The status pipe of one task: a real pipe whose write end the task inherits as fd 3 and reaches by
// the path `/dev/fd/3` (argv[2]), as Bistro does.
//
// Why not Node's `stdio[3] = "pipe"`: libuv makes those with socketpair(2), and on Linux a socket
// cannot be reopened through /dev/fd (open fails with ENXIO), so Bistro's `echo done > "$2"` would
// fail. Node has no pipe(2), so we make a FIFO, open both ends, and unlink it at once: what is left is
// an ordinary anonymous pipe. `/dev/fd/3` reopens it with `>`, `>>` or any language's open(), several
// times if the task likes, and the read end sees EOF only when the task and every descendant that
// inherited fd 3 have closed it — the "status pipe closed" condition of Bistro's task end.

import { execFile } from "node:child_process";
import { close, constants, mkdtemp, open, rm } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/** The fd number of the status pipe in the task. */
export const STATUS_PIPE_FD = 3;
/** argv[2] of every task. */
export const STATUS_PIPE_PATH = `/dev/fd/${STATUS_PIPE_FD}`;

const execFileAsync = promisify(execFile);
const openAsync = promisify(open);
const mkdtempAsync = promisify(mkdtemp);
const rmAsync = promisify(rm);

export interface StatusPipe {
  /** The read end, for the worker; read it with `readStatusPipe`. */
  readFd: number;
  /** The write end, to pass to the task as stdio[3]; close it in the worker right after spawning. */
  writeFd: number;
}

/** Closes an fd, ignoring errors (used on cleanup paths only). */
export function closeQuietly(fd: number): void {
  close(fd, () => undefined);
}

export async function openStatusPipe(): Promise<StatusPipe> {
  const dir = await mkdtempAsync(join(tmpdir(), "sous-status-"));
  try {
    const fifo = join(dir, "status");
    await execFileAsync("mkfifo", ["-m", "600", fifo]);
    // The read end first, non-blocking, so that opening the write end finds a reader and returns
    // at once. The write end stays blocking: the task must block on a full pipe, not get EAGAIN.
    // Node opens files close-on-exec, so tasks spawned meanwhile do not inherit these fds.
    const readFd = await openAsync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const writeFd = await openAsync(fifo, constants.O_WRONLY);
      return { readFd, writeFd };
    } catch (error) {
      closeQuietly(readFd);
      throw error;
    }
  } finally {
    await rmAsync(dir, { recursive: true, force: true });
  }
}

/** A readable stream over the read end; it takes ownership of `readFd` and closes it at EOF. */
export function readStatusPipe(readFd: number): Socket {
  return new Socket({ fd: readFd, readable: true, writable: false });
}
