// docs/api.md is the API reference: every route the API serves, and every Bistro handler it
// answers, must be documented there (and nothing documented that it does not serve).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeApi, type ApiDeps } from "../../lib/api";
import { BISTRO_HANDLERS } from "../../lib/api/bistro";

const docs = readFileSync(join(__dirname, "..", "..", "docs", "api.md"), "utf8");
// Building the route table touches no dependency; the values are never used.
const routes = makeApi({} as ApiDeps).routes.map((r) => `${r.method} ${r.path}`);

describe("docs/api.md", () => {
  it.each(routes)("documents %s", (route) => {
    expect(docs).toContain(route);
  });

  it("documents no route the API does not serve", () => {
    const documented = [...docs.matchAll(/`(GET|PUT|POST|DELETE) (\/[a-z{}/_-]*)`/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(documented.filter((route) => !routes.includes(route))).toEqual([]);
  });

  it.each([...BISTRO_HANDLERS])("documents Bistro handler %s", (handler) => {
    expect(docs).toContain(`| \`${handler}\``);
  });
});
