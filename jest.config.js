// Jest projects: unit (pure, fast), integration (emulators), faults (fault injection on the emulators),
// e2e (whole local deployment), browser (the web UI in Chromium), infra (CDK).
// Integration, faults, e2e and browser start DynamoDB Local + fauxqs once per run in their globalSetup.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const transform = {
  "^.+\\.(t|j|mj)s$": [
    "@swc/jest",
    { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" }, sourceMaps: "inline" },
  ],
};
// middy 6 and fauxqs are ESM-only; let swc transform them for Jest's CJS runtime.
const transformIgnorePatterns = ["/node_modules/(?!(@middy)/)"];
// cdk.out holds a copy of the worker image's build context (with a package.json): keep it out.
const common = {
  transform,
  transformIgnorePatterns,
  testEnvironment: "node",
  modulePathIgnorePatterns: ["<rootDir>/cdk.out/"],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...common, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    {
      ...common,
      displayName: "integration",
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/timeouts.ts"],
      globalSetup: "<rootDir>/test/setup/global-setup.ts",
      globalTeardown: "<rootDir>/test/setup/global-teardown.ts",
    },
    {
      ...common,
      displayName: "faults",
      testMatch: ["<rootDir>/test/faults/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/timeouts.ts"],
      globalSetup: "<rootDir>/test/setup/global-setup.ts",
      globalTeardown: "<rootDir>/test/setup/global-teardown.ts",
    },
    {
      ...common,
      displayName: "e2e",
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/timeouts.ts"],
      globalSetup: "<rootDir>/test/setup/global-setup.ts",
      globalTeardown: "<rootDir>/test/setup/global-teardown.ts",
    },
    {
      // Debian's Chromium through playwright-core against a real sous local (docs/ui.md).
      ...common,
      displayName: "browser",
      testMatch: ["<rootDir>/test/browser/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/timeouts.ts"],
      globalSetup: "<rootDir>/test/setup/global-setup.ts",
      globalTeardown: "<rootDir>/test/setup/global-teardown.ts",
    },
    {
      ...common,
      displayName: "infra",
      testMatch: ["<rootDir>/test/infra/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/setup/timeouts.ts"],
    },
  ],
};
