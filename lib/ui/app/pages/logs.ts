// Task logs: stdout, stderr or statuses, filtered by job, node, time and regex, paged with the
// API's cursors (Bistro's line ids), newest or oldest first, and a follow mode that keeps
// appending new lines (polling a trailing window and skipping lines already shown, as `sous logs
// --follow` does: lib/logs/follow.ts).
import { useEffect, useRef, useState } from "preact/hooks";
import { get } from "../client";
import { ErrorBox } from "../components";
import { html, type View } from "../html";
import { href } from "../route";
import { FollowCursor } from "../../../logs/follow";

interface LogLine {
  job: string;
  node: string;
  time: number;
  line: string;
  lineId: string;
}

interface Page {
  lines: LogLine[];
  nextCursor: string | null;
}

export interface LogFilters {
  type: string;
  job: string;
  node: string;
  /** `YYYY-MM-DDTHH:MM` in UTC, or empty. */
  since: string;
  regex: string;
  sort: string;
}

const MAX_FOLLOWED_LINES = 5000;

export function filtersFrom(params: URLSearchParams): LogFilters {
  return {
    type: params.get("type") ?? "stdout",
    job: params.get("job") ?? "",
    node: params.get("node") ?? "",
    since: params.get("since") ?? "",
    regex: params.get("regex") ?? "",
    sort: params.get("sort") ?? "desc",
  };
}

function query(f: LogFilters, cursor: string | undefined, sort = f.sort) {
  const time = f.since ? Math.floor(Date.parse(`${f.since}:00Z`) / 1000) : undefined;
  return {
    type: f.type,
    job: f.job,
    node: f.node,
    regex: f.regex,
    sort,
    limit: 200,
    ...(cursor !== undefined ? { cursor } : time !== undefined && Number.isFinite(time) ? { time } : {}),
  };
}

function LogTable({ lines }: { lines: readonly LogLine[] }): View {
  return html`<table class="table logs" data-table="logs">
    <thead>
      <tr>
        <th scope="col">time (UTC)</th>
        <th scope="col">job</th>
        <th scope="col">node</th>
        <th scope="col">line</th>
      </tr>
    </thead>
    <tbody>
      ${lines.map(
        (l) =>
          html`<tr key=${l.lineId}>
            <td>${new Date(l.time * 1000).toISOString().slice(0, 19).replace("T", " ")}</td>
            <td>${l.job}</td>
            <td><a href=${href("jobs", [l.job], { task: l.node })}>${l.node}</a></td>
            <td><pre class="line">${l.line}</pre></td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function LogsPage({ params }: { params: URLSearchParams }): View {
  const filters = filtersFrom(params);
  const follow = params.get("follow") === "1";
  const [draft, setDraft] = useState(filters);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const key = params.toString();
  const position = useRef(new FollowCursor());

  useEffect(() => {
    setDraft(filtersFrom(params));
    setLines([]);
    setCursor(null);
    setError(undefined);
    position.current = new FollowCursor();
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = async () => {
      try {
        const page = await get<Page>("/logs", query(filters, undefined, follow ? "asc" : filters.sort));
        if (stopped) return;
        setLines(follow ? position.current.fresh(page.lines) : page.lines);
        setCursor(page.nextCursor);
        if (follow) timer = setTimeout(() => void poll(), 1000);
      } catch (e) {
        if (!stopped) setError(e);
      }
    };
    // Follow: read on, oldest first, from a trailing window before the newest line shown (a line
    // can become readable after newer ones), appending only lines not shown yet.
    const poll = async () => {
      try {
        let from = position.current.start();
        for (;;) {
          const page = await get<Page>("/logs", query(filters, from, "asc"));
          if (stopped) return;
          const fresh = position.current.fresh(page.lines);
          if (fresh.length > 0) setLines((old) => [...old, ...fresh].slice(-MAX_FOLLOWED_LINES));
          if (page.nextCursor === null) break;
          from = page.nextCursor;
        }
        setError(undefined);
      } catch (e) {
        if (!stopped) setError(e);
      }
      if (!stopped) timer = setTimeout(() => void poll(), 1000);
    };
    void first();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
    // The URL holds every filter: reload when it changes.
  }, [key]);

  const go = (next: LogFilters, nextFollow: boolean) => {
    window.location.hash = href("logs", [], { ...next, follow: nextFollow ? "1" : undefined });
  };
  const nextPage = async () => {
    if (cursor === null) return;
    try {
      const page = await get<Page>("/logs", query(filters, cursor));
      setLines((old) => [...old, ...page.lines]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    }
  };
  const field = (name: keyof LogFilters, label: string, type = "text") =>
    html`<label
      >${label}
      <input
        type=${type}
        name=${name}
        value=${draft[name]}
        onInput=${(e: Event) => {
          setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value });
        }}
    /></label>`;
  return html`<section aria-labelledby="logs-title">
    <h2 id="logs-title">Logs</h2>
    <form
      class="filters"
      onSubmit=${(e: Event) => {
        e.preventDefault();
        go(draft, follow);
      }}
    >
      <label
        >stream
        <select
          name="type"
          value=${draft.type}
          onChange=${(e: Event) => {
            setDraft({ ...draft, type: (e.target as HTMLSelectElement).value });
          }}
        >
          <option value="stdout">stdout</option>
          <option value="stderr">stderr</option>
          <option value="statuses">statuses</option>
        </select></label
      >
      ${field("job", "job")} ${field("node", "node")} ${field("since", "from (UTC)", "datetime-local")}
      ${field("regex", "regex")}
      <label
        >order
        <select
          name="sort"
          value=${draft.sort}
          onChange=${(e: Event) => {
            setDraft({ ...draft, sort: (e.target as HTMLSelectElement).value });
          }}
        >
          <option value="desc">newest first</option>
          <option value="asc">oldest first</option>
        </select></label
      >
      <button type="submit">Show</button>
      <button
        type="button"
        aria-pressed=${follow ? "true" : "false"}
        onClick=${() => {
          go(draft, !follow);
        }}
      >
        ${follow ? "■ Stop following" : "▶ Follow"}
      </button>
    </form>
    ${error !== undefined && html`<${ErrorBox} error=${error} />`}
    <p role="status">
      ${lines.length} line${lines.length === 1 ? "" : "s"}${follow ? " (following: new lines appear below)" : ""}
    </p>
    <${LogTable} lines=${lines} />
    ${!follow && cursor !== null && html`<button type="button" onClick=${() => void nextPage()}>Next page</button>`}
  </section>`;
}
