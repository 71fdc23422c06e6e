// Builds the web UI in memory when its server starts: esbuild bundles lib/ui/app (Preact + htm,
// and the shared config parser for validation in the editor) into one script, with the style
// sheet and a page shell. Nothing is fetched at run time and no build output goes stale on disk
// (docs/adr/0005-web-ui.md).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";

const APP_DIR = join(__dirname, "app");

export interface UiBundle {
  html: string;
  js: string;
  css: string;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sous</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<div id="app"><p class="loading">Loading Sous…</p></div>
<noscript>The Sous UI needs JavaScript.</noscript>
<script src="/app.js"></script>
</body>
</html>
`;

/**
 * zod's `z` namespace re-exports every message locale (about half of its size), and a namespace
 * object defeats tree shaking. The config parser never reads `z.locales` (English messages come
 * with the schemas), so the page gets an empty locale list instead.
 */
const dropZodLocales: Plugin = {
  name: "drop-zod-locales",
  setup(builder) {
    builder.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes("/node_modules/zod/") ? { path: "zod-locales", namespace: "sous-empty" } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: "sous-empty" }, () => ({ contents: "export {};", loader: "js" }));
  },
};

let cached: Promise<UiBundle> | undefined;

/** The bundle, built once per process. */
export function buildUiBundle(): Promise<UiBundle> {
  cached ??= (async () => {
    const result = await build({
      entryPoints: [join(APP_DIR, "main.ts")],
      bundle: true,
      write: false,
      format: "iife",
      platform: "browser",
      target: ["chrome110", "firefox115", "safari16"],
      minify: true,
      legalComments: "none",
      logLevel: "silent",
      define: { "process.env.NODE_ENV": '"production"' },
      plugins: [dropZodLocales],
    });
    const js = result.outputFiles[0]?.text;
    if (js === undefined) throw new Error("esbuild produced no UI bundle");
    return { html: PAGE, js, css: await readFile(join(APP_DIR, "style.css"), "utf8") };
  })();
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}
