// The config page: the stored Bistro document and its version, an editor that validates as you
// type with the scheduler's own parser (lib/config), a dry-run diff against what is stored
// (lib/config/diff, as `sous apply --dry-run` shows it), and apply with If-Match, so an edit made
// on a version someone else has since replaced is refused, not silently written over.
import { useEffect, useState } from "preact/hooks";
import { ApiError, call } from "../client";
import { ErrorBox, useLoad } from "../components";
import { html, type View } from "../html";
import { formatIssue, parseConfig } from "../../../config";
import { diffConfigs, formatDiff } from "../../../config/diff";

interface ConfigView {
  version: number;
  updatedAtMs: number;
  config: Record<string, unknown>;
  warnings: { path: string; message: string }[];
  invalidJobs: Record<string, { path: string; message: string }[]>;
  idleReasons: string[];
}

async function loadConfig(): Promise<ConfigView | null> {
  try {
    return (await call<ConfigView>("GET", "/config")).body;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

interface Check {
  problems: string[];
  warnings: string[];
  diff: string[];
  document?: Record<string, unknown>;
}

function check(text: string, stored: Record<string, unknown>): Check {
  const parsed = parseConfig(text);
  if (!parsed.ok) return { problems: parsed.errors.map(formatIssue), warnings: [], diff: [] };
  const document = JSON.parse(text) as Record<string, unknown>;
  const warnings = [
    ...parsed.config.warnings.map(formatIssue),
    ...Object.values(parsed.config.jobs).flatMap((job) =>
      job.errors.map((e) => `job ${job.name} is invalid and will not run: ${formatIssue(e)}`),
    ),
  ];
  return { problems: [], warnings, diff: formatDiff(diffConfigs(stored, document)), document };
}

export function ConfigPage(): View {
  const loaded = useLoad(loadConfig, []);
  const stored = loaded.data;
  const [text, setText] = useState<string | undefined>(undefined);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string; error?: unknown } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const storedText = stored ? JSON.stringify(stored.config, null, 2) : "{}";
  useEffect(() => {
    if (stored !== undefined && text === undefined) setText(storedText);
  }, [stored]);
  const current = text ?? storedText;
  const result = check(current, stored?.config ?? {});
  const edited = current !== storedText;

  const apply = async () => {
    if (!result.document) return;
    setBusy(true);
    setOutcome(undefined);
    try {
      const { body } = await call<{ version: number }>("PUT", "/config", {
        body: result.document,
        headers: { "if-match": `"${stored?.version ?? 0}"` },
      });
      setOutcome({ ok: true, text: `Applied: the config is now version ${body.version}.` });
      setText(undefined);
      loaded.reload();
    } catch (error) {
      const stale = error instanceof ApiError && error.status === 409;
      setOutcome({
        ok: false,
        text: stale
          ? `Refused: the stored config changed since you loaded version ${stored?.version ?? 0}. Reload it, then make your edit again.`
          : "Refused: nothing was stored.",
        error,
      });
    } finally {
      setBusy(false);
    }
  };

  return html`<section aria-labelledby="config-title">
    <h2 id="config-title">Config</h2>
    ${loaded.error !== undefined && html`<${ErrorBox} error=${loaded.error} />`}
    ${stored === null && html`<p>No config is stored yet: write one below and apply it.</p>`}
    ${
      stored &&
      html`<p data-version=${stored.version}>
        ${`Stored version ${stored.version}, saved ${new Date(stored.updatedAtMs).toISOString().replace("T", " ").slice(0, 19)} UTC.`}
      </p>`
    }
    ${stored?.idleReasons.map((r) => html`<p class="idle">ⓘ ${r}</p>`)}
    <label for="config-editor">Bistro config (JSON)</label>
    <textarea
      id="config-editor"
      spellcheck="false"
      rows="24"
      value=${current}
      onInput=${(e: Event) => {
        setText((e.target as HTMLTextAreaElement).value);
        setOutcome(undefined);
      }}
    ></textarea>
    <div class="check" aria-live="polite">
      ${
        result.problems.length > 0 &&
        html`<div class="error" role="alert" data-check="problems">
          <strong
            >✗ ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}: this config cannot be
            applied</strong
          >
          <ul class="issues">
            ${result.problems.map((p) => html`<li>${p}</li>`)}
          </ul>
        </div>`
      }
      ${
        result.warnings.length > 0 &&
        html`<div class="warn" data-check="warnings">
          <strong>⚠ warnings</strong>
          <ul>
            ${result.warnings.map((w) => html`<li>${w}</li>`)}
          </ul>
        </div>`
      }
      ${
        result.problems.length === 0 &&
        html`<div class="diff" data-check="diff">
          <strong>Dry run against version ${stored?.version ?? 0}:</strong>
          <ul>
            ${result.diff.map((d) => html`<li class=${`diff-${d.charAt(0) === "+" ? "add" : d.charAt(0) === "-" ? "del" : "mod"}`}><code>${d}</code></li>`)}
          </ul>
        </div>`
      }
    </div>
    <div class="actions">
      <button type="button" onClick=${() => void apply()} disabled=${busy || result.problems.length > 0 || !edited}>
        ${busy ? "Applying…" : "Apply"}
      </button>
      <button
        type="button"
        onClick=${() => {
          setText(undefined);
          setOutcome(undefined);
          loaded.reload();
        }}
      >
        Reload stored config
      </button>
    </div>
    ${
      outcome &&
      html`<div
        class=${outcome.ok ? "ok" : "error"}
        role=${outcome.ok ? "status" : "alert"}
        data-outcome=${outcome.ok ? "applied" : "refused"}
      >
        <strong>${outcome.text}</strong>
        ${outcome.error !== undefined && html`<${ErrorBox} error=${outcome.error} />`}
      </div>`
    }
  </section>`;
}
