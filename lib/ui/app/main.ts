// The Sous web UI (docs/ui.md): a Preact app addressed by the URL's hash. Pages: jobs, a job's
// shards, running tasks and workers, logs, config. Every link and control is a native element,
// so the whole UI works from the keyboard.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ErrorBox } from "./components";
import { html, type View } from "./html";
import { JobPage } from "./pages/job";
import { JobsPage } from "./pages/jobs";
import { LogsPage } from "./pages/logs";
import { RunningPage } from "./pages/running";
import { parseHash, type Route } from "./route";

const PAGES = [
  { page: "jobs", label: "Jobs", key: "j" },
  { page: "running", label: "Running & workers", key: "r" },
  { page: "logs", label: "Logs", key: "l" },
  { page: "config", label: "Config", key: "c" },
];

type PageComponent = (props: Record<string, never>) => View;

// The config page brings the config parser (and zod, most of the code) with it: its chunk is
// loaded when the page is first shown, so the other pages' first paint does not wait for it.
let configPage: Promise<PageComponent> | undefined;
const loadConfigPage = () => (configPage ??= import("./pages/config").then((module) => module.ConfigPage));

function LazyConfigPage(): View {
  const [loaded, setLoaded] = useState<{ page?: PageComponent; error?: unknown }>({});
  useEffect(() => {
    loadConfigPage().then(
      (page) => {
        setLoaded({ page });
      },
      (error: unknown) => {
        configPage = undefined; // a later visit tries again
        setLoaded({ error });
      },
    );
  }, []);
  if (loaded.error !== undefined) return html`<${ErrorBox} error=${loaded.error} />`;
  return loaded.page ? html`<${loaded.page} />` : html`<p class="loading">Loading the config editor…</p>`;
}

function Page({ route }: { route: Route }): View {
  switch (route.page) {
    case "jobs": {
      const [job, ...path] = route.rest;
      return job === undefined || job === ""
        ? html`<${JobsPage} />`
        : html`<${JobPage} job=${job} path=${path} task=${route.params.get("task") ?? undefined} />`;
    }
    case "running":
      return html`<${RunningPage} />`;
    case "logs":
      return html`<${LogsPage} params=${route.params} />`;
    case "config":
      return html`<${LazyConfigPage} />`;
    default:
      return html`<p>No page ${route.page}. <a href="#/jobs">Go to the jobs.</a></p>`;
  }
}

function App(): View {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onHash = () => {
      setRoute(parseHash(window.location.hash));
      document.getElementById("main")?.focus();
    };
    window.addEventListener("hashchange", onHash);
    return () => {
      window.removeEventListener("hashchange", onHash);
    };
  }, []);
  return html`<a
      class="skip"
      href="#main"
      onClick=${(e: Event) => {
        e.preventDefault();
        document.getElementById("main")?.focus();
      }}
      >Skip to content</a
    >
    <header>
      <h1>Sous</h1>
      <nav aria-label="Pages">
        <ul>
          ${PAGES.map(
            (p) =>
              html`<li>
                <a href=${`#/${p.page}`} accesskey=${p.key} aria-current=${route.page === p.page ? "page" : undefined}
                  >${p.label}</a
                >
              </li>`,
          )}
        </ul>
      </nav>
    </header>
    <main id="main" tabindex="-1"><${Page} route=${route} /></main>`;
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(html`<${App} />`, root);
}
