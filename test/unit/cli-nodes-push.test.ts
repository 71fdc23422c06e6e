// `sous nodes push --from-script` (lib/cli/nodes-push.ts): the parents come from GET /nodes,
// the script runs once per parent, the children go out in one PUT /nodes/{source}; a failing
// script pushes nothing (the stored, last good set stays) and exits non-zero.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { buildProgram, commanderExitCode } from "../../lib/cli/main";
import type { CliIo } from "../../lib/cli/io";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sous-push-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o700);
  return path;
}

interface Request {
  method: string;
  url: URL;
  body: unknown;
}

/** Runs `sous ...args` against a fake API holding hosts h1 and h2 (two pages). */
async function run(args: string[]) {
  const requests: Request[] = [];
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const fake: typeof fetch = (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? "GET";
    requests.push({ method, url, body: init?.body ? JSON.parse(init.body as string) : undefined });
    const levels = ["instance", "host", "db"];
    if (method === "GET" && url.pathname === "/nodes") {
      const page = url.searchParams.get("cursor")
        ? { levels, nodes: [{ name: "h2" }], nextCursor: null }
        : { levels, nodes: [{ name: "h1" }], nextCursor: "next" };
      return Promise.resolve(Response.json(page));
    }
    if (method === "PUT") {
      const count = (requests.at(-1)?.body as { nodes: unknown[] }).nodes.length;
      return Promise.resolve(Response.json({ source: "dbs", generation: "g1", count, updatedAtMs: 1 }));
    }
    return Promise.resolve(Response.json({ message: "no" }, { status: 404 }));
  };
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    setExitCode: (value) => {
      code = value;
    },
    onInterrupt: () => () => undefined,
    env: { SOUS_API: "http://127.0.0.1:1" },
    fetch: fake,
  };
  try {
    await buildProgram(io).parseAsync(args, { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    code = commanderExitCode(error);
  }
  return { requests, out, err, code };
}

describe("sous nodes push --from-script", () => {
  it("runs the script per parent of every page and pushes the children one level down", async () => {
    const path = script("dbs.sh", 'echo "$1:db1"; echo "$1:db2"');
    const result = await run(["nodes", "push", "--from-script", path, "--source", "dbs", "--parent-level", "host"]);
    expect(result.code).toBe(0);
    const put = result.requests.find((request) => request.method === "PUT");
    expect(put?.url.pathname).toBe("/nodes/dbs");
    expect(put?.body).toEqual({
      nodes: [
        { name: "h1:db1", level: "db", parent: "h1" },
        { name: "h1:db2", level: "db", parent: "h1" },
        { name: "h2:db1", level: "db", parent: "h2" },
        { name: "h2:db2", level: "db", parent: "h2" },
      ],
    });
    expect(result.out).toEqual(["Pushed 4 nodes under 2 host nodes to source dbs."]);
  });

  it("pushes nothing when the script fails for any parent, and exits 1", async () => {
    const path = script("flaky.sh", '[ "$1" = h2 ] && exit 7; echo "$1:db1"');
    const result = await run(["nodes", "push", "--from-script", path, "--source", "dbs", "--parent-level", "host"]);
    expect(result.code).toBe(1);
    expect(result.requests.some((request) => request.method === "PUT")).toBe(false);
    expect(result.err.join("\n")).toMatch(/script .*flaky.sh \(parent h2\) exited with code 7/);
  });

  it("refuses a parent level with no level below it", async () => {
    const path = script("none.sh", "true");
    const result = await run(["nodes", "push", "--from-script", path, "--source", "dbs", "--parent-level", "db"]);
    expect(result.code).toBe(2);
    expect(result.err.join("\n")).toContain("No level below db");
  });

  it("refuses a timeout past its limit", async () => {
    const args = ["nodes", "push", "--from-script", "/bin/true", "--source", "s", "--parent-level", "host"];
    const result = await run([...args, "--timeout-sec", "3601"]);
    expect(result.code).toBe(2);
    expect(result.requests).toEqual([]);
  });
});
