// The docs stay true to the deployment and stand alone: every API URL they show uses the stack's
// stage, and no doc, fixture or source comment points at files a user of the repository lacks
// (the design notes and Bistro reference kept outside it).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { API_STAGE } from "../../infra/api";

const root = join(__dirname, "..", "..");

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || name.startsWith(".")) return [];
    return statSync(path).isDirectory() ? files(path, ext) : ext.test(name) ? [path] : [];
  });
}

const docs = [join(root, "README.md"), ...files(join(root, "docs"), /\.md$/)];
const sources = [
  ...docs,
  ...files(join(root, "events"), /\.(json|sh|md)$/),
  ...files(join(root, "lib"), /\.ts$/),
  ...files(join(root, "infra"), /\.ts$/),
  ...files(join(root, "functions"), /\.ts$/),
];

describe("docs", () => {
  it.each(docs.map((d) => relative(root, d)))("%s shows API URLs with the stack's stage", (doc) => {
    const text = readFileSync(join(root, doc), "utf8");
    const stages = [...text.matchAll(/execute-api\.[A-Za-z0-9<>.-]+\.amazonaws\.com\/([A-Za-z0-9_-]+)/g)].map(
      (m) => m[1],
    );
    expect(stages.filter((stage) => stage !== API_STAGE)).toEqual([]);
  });

  it("nothing points at files outside the repository (../shared, BISTRO.md, DESIGN.md)", () => {
    const offending = sources.filter((path) => /\.\.\/shared|BISTRO\.md|DESIGN\.md/.test(readFileSync(path, "utf8")));
    expect(offending.map((path) => relative(root, path))).toEqual([]);
  });
});
