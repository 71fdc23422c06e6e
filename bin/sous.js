#!/usr/bin/env node
// `sous` entry point: runs the TypeScript CLI through tsx's loader (no build step).
require("tsx/cjs");
require("../lib/cli/main.ts");
