// Stack traces of a Lambda bundle, mapped to the TypeScript sources when a trace is first
// formatted. Node's own `--enable-source-maps` does its part of this work while the bundle loads:
// it reads and parses the whole map and walks every character of the bundle, a large share of a
// cold start (docs/adr/0003). Here nothing happens at load but a check that the map exists; the
// map is read on the first `error.stack`, which a healthy function rarely asks for. Frames keep
// Node's format (`at name (file:line:column)`, as `--enable-source-maps` writes them), with
// repository-relative source paths. Imported first by each function, for its side effect.
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";

/** V8's call site; its `toString` (the frame as V8 prints it) is missing from Node's types. */
type CallSite = NodeJS.CallSite & { toString(): string };
/** What `SourceMap.findEntry` returns (`name` is missing from Node 20's types); empty when unmapped. */
interface MapEntry {
  originalSource?: string;
  originalLine?: number;
  originalColumn?: number;
  name?: string;
}

type Payload = ConstructorParameters<typeof SourceMap>[0];

/**
 * The map with its sources relative to the repository (`functions/api.ts`, `lib/...`,
 * `node_modules/...`): esbuild writes them relative to wherever the bundle was built, and every
 * input lies in the repository, so their common directory is its root.
 */
function repositoryRelative(payload: Payload): Payload {
  const dirs = payload.sources.map((source) => source.split("/").slice(0, -1));
  const first = dirs[0] ?? [];
  let common = 0;
  while (common < first.length && dirs.every((dir) => dir[common] === first[common])) common++;
  return { ...payload, sources: payload.sources.map((source) => source.split("/").slice(common).join("/")) };
}

function entryAt(map: SourceMap, line: number | null, column: number | null): MapEntry {
  if (line === null || column === null) return {};
  return map.findEntry(line - 1, column - 1);
}

/** One frame as Node prints a mapped one; `undefined` when the map does not cover it. */
function mappedFrame(map: SourceMap, site: CallSite, caller: CallSite | undefined): string | undefined {
  const entry = entryAt(map, site.getLineNumber(), site.getColumnNumber());
  if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) {
    return undefined;
  }
  // The minified name says nothing: the map names the enclosing function, or the caller's call.
  const enclosing = entryAt(map, site.getEnclosingLineNumber(), site.getEnclosingColumnNumber()).name;
  const called =
    caller && caller.getFileName() === site.getFileName()
      ? entryAt(map, caller.getLineNumber(), caller.getColumnNumber()).name
      : undefined;
  const typeName = site.getTypeName();
  const fnName = site.getFunctionName() ?? site.getMethodName();
  const name =
    enclosing ?? called ?? `${typeName && typeName !== "global" ? `${typeName}.` : ""}${fnName ?? "<anonymous>"}`;
  const prefix = site.isAsync() ? "async " : site.isConstructor() ? "new " : "";
  const location = `${entry.originalSource}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  return `${prefix}${name} (${location})`;
}

/** Installs the mapping for the bundle at `bundle` (its map beside it), unless Node maps itself. */
export function mapStackTraces(bundle: string): boolean {
  if (process.sourceMapsEnabled || !existsSync(`${bundle}.map`)) return false;
  let map: SourceMap | null | undefined;
  const loadMap = () => {
    if (map === undefined) {
      try {
        map = new SourceMap(repositoryRelative(JSON.parse(readFileSync(`${bundle}.map`, "utf8")) as Payload));
      } catch {
        map = null; // an unreadable map leaves traces as they are
      }
    }
    return map;
  };
  Error.prepareStackTrace = (error: Error, sites: CallSite[]) => {
    const header = Error.prototype.toString.call(error);
    const frames = sites.map((site, i) => {
      const sourceMap = site.getFileName() === bundle ? loadMap() : null;
      return (sourceMap && mappedFrame(sourceMap, site, sites[i + 1])) ?? site.toString();
    });
    return [header, ...frames].join("\n    at ");
  };
  return true;
}

mapStackTraces(__filename);
