// ESLint flat config: typed strict rules plus the dependency boundaries of DESIGN.md §3.
// Flat config does not merge one rule's options across blocks (the last matching block wins),
// so each boundary block repeats the general patterns it must keep.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const OUTSIDE_LIB = {
  regex: "^(\\.\\.?/)+(.*/)?(functions|infra|test|bench)(/|$)",
  message: "Nothing imports from functions/, infra/, test/ or bench/: the layering rule in docs/adr/0001.",
};
const AWS_AND_LAMBDA = [
  { group: ["@middy/*", "aws-lambda"], message: "Lambda and middy types belong in functions/ only." },
  { group: ["aws-cdk-lib", "aws-cdk-lib/*", "constructs", "cdk-nag"], message: "CDK belongs in infra/ only." },
];
const PURE = [
  {
    group: ["@aws-sdk/*", "@smithy/*"],
    message: "lib/model, lib/config and lib/scheduler are pure: no AWS SDK.",
  },
  {
    regex: "^(node:)?(fs|fs/promises|child_process|net|http|https|dgram|worker_threads|cluster)$",
    message: "lib/model, lib/config and lib/scheduler are pure: no I/O modules.",
  },
  {
    // Pure folders are flat, so a relative import may only reach a sibling pure folder or a file inside its own.
    regex: "^\\.\\./(?!(model|config|scheduler)(/|$))|^\\.\\./\\.\\./",
    message: "lib/model, lib/config and lib/scheduler may import only each other: the layering rule in docs/adr/0001.",
  },
];

const BROWSER = [
  {
    group: ["@aws-sdk/*", "@smithy/*", "esbuild"],
    message: "lib/ui/app runs in the browser: it reaches AWS only through the UI server's /api.",
  },
  {
    regex: "^node:|^(fs|fs/promises|child_process|net|http|https|os|path|crypto|stream|worker_threads)$",
    message: "lib/ui/app runs in the browser: no Node modules.",
  },
  {
    regex:
      "^(\\.\\./)+(aws|store|dispatch|logs(?!/(follow|line-id)$)|worker|local|cli|round|nodes|ui/server|ui/bundle|api(?!/(histogram-codes|error-answer)$))(/|$)",
    message:
      "lib/ui/app may import only pure code (lib/model, lib/config, lib/api/histogram-codes and error-answer, lib/logs/follow and line-id) besides its own.",
  },
];

export default tseslint.config(
  { ignores: ["node_modules/", "cdk.out/", "coverage/", "dist/", "test/fixtures/lint/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-unnecessary-condition": ["error", { allowConstantLoopConditions: true }],
    },
  },
  {
    files: ["functions/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": ["error", { patterns: [OUTSIDE_LIB, AWS_AND_LAMBDA[1]] }],
    },
  },
  {
    files: ["lib/**/*.ts"],
    rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: [OUTSIDE_LIB, ...AWS_AND_LAMBDA] }] },
  },
  {
    files: ["lib/model/**/*.ts", "lib/config/**/*.ts", "lib/scheduler/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": ["error", { patterns: [OUTSIDE_LIB, ...AWS_AND_LAMBDA, ...PURE] }],
    },
  },
  {
    files: ["lib/ui/app/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": ["error", { patterns: [OUTSIDE_LIB, ...AWS_AND_LAMBDA, ...BROWSER] }],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/unbound-method": "off",
    },
  },
);
