#!/usr/bin/env node
// `sous` entry point. In a repository checkout it runs the TypeScript sources through tsx's loader
// (no build step); an installed package has no sources, only the single-file bundle that
// `npm pack` builds (`prepack`: dist/sous.js), which needs neither tsx nor any other dependency.
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const sources = join(__dirname, "..", "lib", "cli", "main.ts");
if (existsSync(sources)) {
  require("tsx/cjs");
  require(sources).main();
} else {
  require("../dist/sous.js").main();
}
