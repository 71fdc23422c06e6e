// Builds the web UI in memory when its server starts: esbuild bundles lib/ui/app (Preact + htm,
// and the shared config parser for validation in the editor) into ES module scripts, with the
// style sheet and a page shell. The config page, which alone needs the parser (and zod, most of
// the code), is split off and loaded when first shown, so the first paint loads a small script. Nothing is fetched at run time and, from a checkout, no build output
// goes stale on disk (docs/adr/0005-web-ui.md). The packaged CLI (one esbuild bundle in dist/,
// without esbuild) reads the bundle `npm pack` wrote beside it instead: `tsx lib/ui/bundle.ts DIR`.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";

const APP_DIR = join(__dirname, "app");
/** Where the packaged CLI (dist/sous.js) finds the prebuilt bundle; absent in a checkout. */
const PREBUILT_DIR = join(__dirname, "ui");

export interface UiBundle {
  html: string;
  /** The page's entry script (`/app.js`). */
  js: string;
  css: string;
  /** Every script by its path: `/app.js` and the chunks it imports on demand. */
  scripts: ReadonlyMap<string, string>;
}

const ENTRY_SCRIPT = "app.js";

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
<script type="module" src="/app.js"></script>
</body>
</html>
`;

let cached: Promise<UiBundle> | undefined;

/** The bundle, built once per process. */
export function buildUiBundle(): Promise<UiBundle> {
  cached ??= (async () => {
    if (existsSync(join(PREBUILT_DIR, ENTRY_SCRIPT))) {
      const names = (await readdir(PREBUILT_DIR)).filter((name) => name.endsWith(".js"));
      const scripts = new Map(
        await Promise.all(names.map(async (name) => [name, await readFile(join(PREBUILT_DIR, name), "utf8")] as const)),
      );
      return withPage(scripts, await readFile(join(PREBUILT_DIR, "app.css"), "utf8"));
    }
    const { build } = await import("esbuild");
    const result = await build({
      entryPoints: { app: join(APP_DIR, "main.ts") },
      bundle: true,
      write: false,
      // Modules, so `import()` of a page loads its chunk only when the page is first shown.
      format: "esm",
      splitting: true,
      outdir: "/ui",
      entryNames: "[name]",
      chunkNames: "[name]-[hash]",
      platform: "browser",
      target: ["chrome110", "firefox115", "safari16"],
      minify: true,
      legalComments: "none",
      logLevel: "silent",
      define: { "process.env.NODE_ENV": '"production"' },
    });
    const scripts = new Map(result.outputFiles.map((file) => [basename(file.path), file.text]));
    return withPage(scripts, await readFile(join(APP_DIR, "style.css"), "utf8"));
  })();
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

/** The bundle of these scripts (by file name) and style. */
function withPage(scripts: ReadonlyMap<string, string>, css: string): UiBundle {
  const js = scripts.get(ENTRY_SCRIPT);
  if (js === undefined) throw new Error(`The UI bundle has no ${ENTRY_SCRIPT}`);
  return { html: PAGE, js, css, scripts: new Map([...scripts].map(([name, text]) => [`/${name}`, text])) };
}

/** Writes the bundle's scripts and style into `dir` (for the packaged CLI). */
export async function writeUiBundle(dir: string): Promise<void> {
  const bundle = await buildUiBundle();
  await mkdir(dir, { recursive: true });
  // Chunk names carry a content hash: drop the previous build's, which nothing loads any more.
  for (const name of await readdir(dir)) if (name.endsWith(".js")) await rm(join(dir, name));
  for (const [path, text] of bundle.scripts) await writeFile(join(dir, path.slice(1)), text);
  await writeFile(join(dir, "app.css"), bundle.css);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: tsx lib/ui/bundle.ts OUTPUT_DIR");
  void writeUiBundle(dir);
}
