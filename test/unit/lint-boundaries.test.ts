// The dependency rule is enforced by eslint.config.mjs; these cases prove it bites.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const root = join(__dirname, "..", "..");
const RULE = "@typescript-eslint/no-restricted-imports";

// ESLint loads its flat config with import(), which Jest's VM refuses, so the cases are linted
// in one child process through the ESLint API: the project's own config, each probe linted as
// if it lived at its path, only the boundary rule run (it needs no type information, and the
// probes are not files the TypeScript project service knows).
const LINT_CASES = `
const { ESLint } = require("eslint");
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
    ruleFilter: ({ ruleId }) => ruleId === ${JSON.stringify(RULE)},
  });
  const out = [];
  for (const [file, code] of cases) {
    const [result] = await eslint.lintText(code, { filePath: require("path").join(process.cwd(), file) });
    out.push(result.messages.filter((m) => m.ruleId === ${JSON.stringify(RULE)}).map((m) => m.message));
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

const REJECTED: [string, string][] = [
  [
    "lib/model/probe.ts",
    'import { DynamoDBClient } from "@aws-sdk/client-dynamodb";\nexport const c = DynamoDBClient;\n',
  ],
  ["lib/config/probe.ts", 'import { readFileSync } from "node:fs";\nexport const r = readFileSync;\n'],
  ["lib/scheduler/probe.ts", 'import { spawn } from "child_process";\nexport const s = spawn;\n'],
  ["lib/scheduler/probe.ts", 'import { createServer } from "node:net";\nexport const s = createServer;\n'],
  ["lib/scheduler/probe.ts", 'import middy from "@middy/core";\nexport const m = middy;\n'],
  ["lib/scheduler/probe.ts", 'import { makeAwsClients } from "../aws";\nexport const m = makeAwsClients;\n'],
  ["lib/model/probe.ts", 'import * as local from "../local/emulators";\nexport const l = local;\n'],
  ["lib/store/probe.ts", 'import * as setup from "../../test/setup/global-setup";\nexport const s = setup;\n'],
  ["lib/api/probe.ts", 'import * as handler from "../../functions/api";\nexport const h = handler;\n'],
  ["lib/worker/probe.ts", 'import { App } from "aws-cdk-lib";\nexport const a = App;\n'],
];
const ALLOWED: [string, string][] = [
  ["lib/scheduler/probe.ts", 'import * as model from "../model/probe2";\nexport const m = model;\n'],
  ["lib/config/probe.ts", 'import { z } from "zod";\nexport const s = z.string();\n'],
  [
    "lib/store/probe.ts",
    'import { DynamoDBClient } from "@aws-sdk/client-dynamodb";\nexport const c = DynamoDBClient;\n',
  ],
  ["lib/store/probe.ts", 'import { makeAwsClients } from "../aws";\nexport const m = makeAwsClients;\n'],
];

describe("dependency boundaries (npm run lint)", () => {
  let verdicts: string[][] = [];
  beforeAll(() => {
    const output = execFileSync(process.execPath, ["-e", LINT_CASES], {
      cwd: root,
      input: JSON.stringify([...REJECTED, ...ALLOWED]),
      encoding: "utf8",
    });
    verdicts = JSON.parse(output) as string[][];
  }, 120000);

  it.each(REJECTED.map(([file, code], i) => [file, code.split("\n")[0], i] as const))(
    "rejects in %s: %s",
    (_file, _code, index) => {
      expect(verdicts[index]?.length).toBeGreaterThan(0);
    },
  );

  it.each(ALLOWED.map(([file, code], i) => [file, code.split("\n")[0], REJECTED.length + i] as const))(
    "allows in %s: %s",
    (_file, _code, index) => {
      expect(verdicts[index]).toEqual([]);
    },
  );
});
