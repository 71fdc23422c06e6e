// Builds the web UI in memory when its server starts: esbuild bundles lib/ui/app (Preact + htm,
// and the shared config parser for validation in the editor) into one script, with the style
// sheet and a page shell. Nothing is fetched at run time and, from a checkout, no build output
// goes stale on disk (docs/adr/0005-web-ui.md). The packaged CLI (one esbuild bundle in dist/,
// without esbuild) reads the bundle `npm pack` wrote beside it instead: `tsx lib/ui/bundle.ts DIR`.
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Plugin } from "esbuild";

const APP_DIR = join(__dirname, "app");
/** Where the packaged CLI (dist/sous.js) finds the prebuilt bundle; absent in a checkout. */
const PREBUILT_DIR = join(__dirname, "ui");

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
    if (existsSync(join(PREBUILT_DIR, "app.js"))) {
      const [js, css] = await Promise.all(["app.js", "app.css"].map((f) => readFile(join(PREBUILT_DIR, f), "utf8")));
      return { html: PAGE, js: js ?? "", css: css ?? "" };
    }
    const { build } = await import("esbuild");
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

/** Writes the bundle's script and style into `dir` (for the packaged CLI). */
export async function writeUiBundle(dir: string): Promise<void> {
  const bundle = await buildUiBundle();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "app.js"), bundle.js);
  await writeFile(join(dir, "app.css"), bundle.css);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: tsx lib/ui/bundle.ts OUTPUT_DIR");
  void writeUiBundle(dir);
}
