// Pages are addressed by the URL's hash (#/jobs, #/jobs/NAME?parent=N, #/running, #/logs?job=J,
// #/config), so every view can be bookmarked and the back button works without a server route.
export interface Route {
  page: string;
  /** Path segments after the page, decoded. */
  rest: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, "");
  const [path = "", search = ""] = text.split("?", 2);
  const [page = "", ...rest] = path.split("/").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { page: page || "jobs", rest, params: new URLSearchParams(search) };
}

/** A hash link: `href("jobs", ["my job"], {parent: "n1"})` -> `#/jobs/my%20job?parent=n1`. */
export function href(page: string, rest: readonly string[] = [], params: Record<string, string | undefined> = {}) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") search.set(k, v);
  const path = [page, ...rest].map(encodeURIComponent).join("/");
  const query = search.toString();
  return `#/${path}${query ? `?${query}` : ""}`;
}
