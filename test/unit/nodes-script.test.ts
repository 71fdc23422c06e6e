// The `script` node source (lib/nodes/script.ts): Bistro's TestScriptFetcher cases, and what Sous
// adds: no shell, a timeout, an output cap, non-zero exits and missing scripts as failures that
// keep each parent's last good children and show as problems.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  builtinNodeSources,
  createScriptSource,
  fetchNodeSpecs,
  loadNodes,
  mapLimited,
  MAX_SCRIPT_TIMEOUT_SEC,
  runNodeScript,
  type NodeSettings,
} from "../../lib/nodes";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sous-script-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function script(body: string): string {
  const path = join(dir, `script-${counter++}.sh`);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o700);
  return path;
}

function settings(levels: string[], ...sources: [string, Record<string, unknown>][]): NodeSettings {
  return { levels, nodeSources: sources.map(([source, prefs]) => ({ source, prefs })) };
}

const registry = () => builtinNodeSources().register(createScriptSource());

describe("script source (Bistro's TestScriptFetcher)", () => {
  it("needs its prefs", async () => {
    await expect(fetchNodeSpecs(settings(["l1", "l2"], ["script", {}]), "inst", 0, registry())).rejects.toThrow(
      '"script" is required',
    );
  });

  it("makes each stdout line a child of the instance", async () => {
    const path = script("echo foo\necho bar");
    const tree = await loadNodes(
      settings(["level1"], ["script", { parent_level: "instance", script: path }]),
      "inst",
      0,
      registry(),
    );
    expect(tree.names.toArray()).toEqual(["inst", "foo", "bar"]);
    expect([tree.parentOf[1], tree.parentOf[2]]).toEqual([0, 0]);
  });

  it("passes each parent's name as the argument", async () => {
    const path = script('echo "$1:foo"');
    const tree = await loadNodes(
      settings(
        ["level1", "level2"],
        ["manual", { node1: [], node2: [] }],
        ["script", { parent_level: "level1", script: path }],
      ),
      "inst",
      0,
      registry(),
    );
    expect(tree.size).toBe(5);
    for (const parent of ["node1", "node2"]) {
      const node = tree.indexOf.get(`${parent}:foo`) ?? -1;
      expect(tree.levels[tree.levelOf[node] ?? 0]).toBe("level2");
      expect(tree.names.at(tree.parentOf[node] ?? 0)).toBe(parent);
    }
  });
});

describe("running a node script", () => {
  it("runs no shell: the parent's name reaches the script as one literal argument", async () => {
    const path = script('printf "%s\\n" "$1"; printf "%s\\n" "$#"');
    expect(await runNodeScript(path, "a b; $(echo x) `id`")).toEqual(["a b; $(echo x) `id`", "1"]);
  });

  it("skips blank lines and carriage returns", async () => {
    expect(await runNodeScript(script('printf "a\\r\\n\\n\\nb"'), "p")).toEqual(["a", "b"]);
  });

  it.each([
    [
      "a non-zero exit",
      () => runNodeScript(script("echo half; echo oops >&2; exit 3"), "p"),
      /exited with code 3; stderr: oops/,
    ],
    [
      "a timeout",
      () => runNodeScript(script("echo early; exec sleep 30"), "p", { timeoutSec: 0.3 }),
      /did not finish within 0.3 s/,
    ],
    [
      "the output cap",
      () => runNodeScript(script("while :; do echo aaaaaaaaaaaaaaaaaaaa; done"), "p", { maxOutputBytes: 10_000 }),
      /printed more than 10000 bytes/,
    ],
    ["a missing script", () => runNodeScript(join(dir, "nope.sh"), "p"), /does not exist/],
  ])("fails on %s", async (_what, run, message) => {
    await expect(run()).rejects.toThrow(message);
  });

  it("fails on a file that is not executable", async () => {
    const path = join(dir, "plain.txt");
    writeFileSync(path, "echo x\n");
    await expect(runNodeScript(path, "p")).rejects.toThrow(/is not executable/);
  });

  it("kills what a timed-out script started (its process group)", async () => {
    const marker = join(dir, "grandchild-ran");
    const path = script(`(sleep 1; touch ${marker}) &\nexec sleep 30`);
    await expect(runNodeScript(path, "p", { timeoutSec: 0.2 })).rejects.toThrow(/did not finish/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(existsSync(marker)).toBe(false);
  });

  it(`refuses timeout_sec outside (0, ${MAX_SCRIPT_TIMEOUT_SEC}]`, async () => {
    for (const timeout of [0, -1, MAX_SCRIPT_TIMEOUT_SEC + 1, "10"]) {
      const prefs = { parent_level: "instance", script: "/bin/true", timeout_sec: timeout };
      await expect(fetchNodeSpecs(settings(["l"], ["script", prefs]), "i", 0, registry())).rejects.toThrow(
        '"timeout_sec" must be a number of seconds',
      );
    }
  });

  it("runs parents a few at a time and keeps their order", async () => {
    let running = 0;
    let peak = 0;
    const result = await mapLimited([5, 1, 4, 2, 3, 0], 2, async (ms) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, ms * 5));
      running--;
      return ms;
    });
    expect(result).toEqual([5, 1, 4, 2, 3, 0]);
    expect(peak).toBe(2);
  });
});

describe("a failing script keeps the last good node set", () => {
  const cases: [string, string, string][] = [
    ["a non-zero exit", "exit 1", "exited with code 1"],
    ["a timeout", "exec sleep 30", "did not finish within 0.5 s"],
    ["the output cap", "while :; do echo aaaaaaaaaaaaaaaaaaaa; done", "printed more than 100000 bytes"],
    ["a missing script", "MISSING", "does not exist"],
  ];

  it.each(cases)("after %s, and reports it until a run succeeds", async (_what, failure, reason) => {
    const good = join(dir, `switch-${counter++}.sh`);
    const write = (body: string) => {
      writeFileSync(good, `#!/bin/sh\n${body}\n`);
      chmodSync(good, 0o700);
    };
    write('echo "$1-a"; echo "$1-b"');
    const source = createScriptSource({ maxOutputBytes: 100_000 });
    const nodes = builtinNodeSources().register(source);
    const config = settings(
      ["host", "db"],
      ["manual", { h1: [], h2: [] }],
      ["script", { parent_level: "host", script: good, timeout_sec: 0.5 }],
    );
    const first = await loadNodes(config, "inst", 100, nodes);
    expect(first.names.toArray()).toEqual(["inst", "h1", "h2", "h1-a", "h1-b", "h2-a", "h2-b"]);
    expect(nodes.problems()).toEqual([]);

    if (failure === "MISSING") rmSync(good);
    else write(failure);
    const second = await loadNodes(config, "inst", 200, nodes);
    expect(second.names.toArray()).toEqual(first.names.toArray());
    const problems = nodes.problems();
    expect(problems).toHaveLength(2);
    for (const problem of problems) {
      expect(problem.startsWith(`script: script ${good}`)).toBe(true);
      expect(problem).toContain(reason);
      expect(problem).toMatch(/kept its 2 nodes from the run at 100$/);
    }

    write('echo "$1-c"');
    const third = await loadNodes(config, "inst", 300, nodes);
    expect(third.names.toArray()).toEqual(["inst", "h1", "h2", "h1-c", "h2-c"]);
    expect(nodes.problems()).toEqual([]);
  });

  it("gives a parent without an earlier good run no nodes, and says so", async () => {
    const nodes = builtinNodeSources().register(createScriptSource());
    const tree = await loadNodes(
      settings(["l"], ["script", { parent_level: "instance", script: script("exit 2") }]),
      "inst",
      0,
      nodes,
    );
    expect(tree.size).toBe(1);
    expect(nodes.problems()).toEqual([
      expect.stringMatching(/exited with code 2; no earlier good run, so it has no nodes$/),
    ]);
  });
});
