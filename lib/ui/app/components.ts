// Pieces every page uses: the stacked status bar (each segment with its symbol and a text
// equivalent), the legend, error boxes that list every issue the API named, and a hook that
// loads (and optionally re-loads on a period) what a page shows.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./client";
import { html, type View } from "./html";
import { CATEGORIES, describeCounts } from "./status";

/** A horizontal bar of task counts per category; the text beside it says the same in words. */
export function StatusBar({ counts, label }: { counts: ReadonlyMap<string, number>; label: string }): View {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const text = describeCounts(counts);
  return html`<div class="status-bar-wrap">
    <div class="status-bar" role="img" aria-label=${`${label}: ${text}`}>
      ${CATEGORIES.filter((c) => (counts.get(c.key) ?? 0) > 0).map((c) => {
        const n = counts.get(c.key) ?? 0;
        return html`<span
          class=${`seg st-${c.key}`}
          data-status=${c.key}
          style=${`flex-grow:${n}`}
          title=${`${n} ${c.label}`}
          >${n / Math.max(total, 1) > 0.06 ? `${c.symbol} ${n}` : ""}</span
        >`;
      })}
    </div>
    <span class="status-text">${text}</span>
  </div>`;
}

export function Legend(): View {
  return html`<ul class="legend" aria-label="Status legend">
    ${CATEGORIES.map(
      (c) => html`<li><span class=${`swatch st-${c.key}`} aria-hidden="true">${c.symbol}</span> ${c.label}</li>`,
    )}
  </ul>`;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function ErrorBox({ error }: { error: unknown }): View {
  const issues = error instanceof ApiError ? error.issues : [];
  return html`<div class="error" role="alert">
    <strong>${messageOf(error)}</strong>
    ${
      issues.length > 0 &&
      html`<ul class="issues">
        ${issues.map((issue) => html`<li><code>${issue.path ?? ""}</code> ${issue.message}</li>`)}
      </ul>`
    }
  </div>`;
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` now, whenever `deps` change, after `reload()`, and every `periodMs` if given. An
 * answer that arrives after a newer request started is dropped.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[], periodMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    loadRef.current().then(
      (data) => {
        if (mine === generation.current) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (mine === generation.current) setState((s) => ({ data: s.data, error, loading: false }));
      },
    );
  }, []);
  useEffect(() => {
    reload();
    if (periodMs === undefined) return undefined;
    const timer = setInterval(reload, periodMs);
    return () => {
      clearInterval(timer);
    };
  }, deps);
  return { ...state, reload };
}

/** A button that runs an action, shows it is busy, and reports its outcome. */
export function ActionButton({
  label,
  run,
  confirm,
  disabled,
  title,
}: {
  label: string;
  run: () => Promise<string | undefined>;
  confirm?: string;
  disabled?: boolean;
  title?: string;
}): View {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const onClick = () => {
    if (confirm !== undefined && !window.confirm(confirm)) return;
    setBusy(true);
    setOutcome(undefined);
    run().then(
      (text) => {
        setBusy(false);
        setOutcome(text === undefined ? undefined : { ok: true, text });
      },
      (error: unknown) => {
        setBusy(false);
        setOutcome({ ok: false, text: messageOf(error) });
      },
    );
  };
  return html`<span class="action">
    <button type="button" onClick=${onClick} disabled=${busy || disabled === true} title=${title}>
      ${busy ? `${label}…` : label}
    </button>
    ${outcome && html`<span class=${outcome.ok ? "outcome ok" : "outcome bad"} role="status">${outcome.text}</span>`}
  </span>`;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function formatTime(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec) || sec <= 0) return "–";
  return new Date(sec * 1000).toISOString().replace("T", " ").slice(0, 19);
}

export function formatDuration(sec: number): string {
  if (sec < 60) return `${Math.max(0, Math.round(sec))} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
  return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
}
