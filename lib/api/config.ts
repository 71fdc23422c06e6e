// The config and its jobs through the API: read the stored Bistro document, replace it whole
// (validated first: an invalid document is refused with every problem and nothing stored), and
// save or delete one job as a new config version. Writes are optimistic (`expectedVersion`,
// HTTP If-Match); a single-job write without one retries on a lost race, since it only
// touches its own key. Every accepted change pokes a round.
import { idleReasons, JOB_PREFIX, parseConfig, serializeJob } from "../config";
import { nodeSourceIssues } from "../nodes";
import { isPlainObject, putEntry } from "../config/issues";
import type { Config, ConfigIssue } from "../model/config";
import { jobCanRun } from "../model/config";
import { getCurrentConfigVersion, putConfig } from "../store/config-store";
import { ConflictError, NotFoundError } from "../store/errors";
import { pokeQuietly, type ApiDeps } from "./deps";
import { ValidationError } from "./errors";
import type { RouteInput } from "./http";
import { NO_CONFIG_MESSAGE, nodeSourcesOf, requireCurrentConfig } from "./state";

/** Attempts of a single-job write that keeps losing races to other writers. */
const JOB_WRITE_ATTEMPTS = 4;

/**
 * The version a write expects: the If-Match header (`"3"`, `3`, `W/"3"`; `*` = whatever is
 * current) or `?expectedVersion=3`; 0 means "no config stored yet". Undefined when not given.
 */
export function expectedVersionOf(input: RouteInput, what = "config version"): number | null | undefined {
  const fromHeader = input.headers["if-match"]?.trim();
  const fromQuery = input.query.get("expectedVersion");
  const parse = (text: string, where: string): number | null | undefined => {
    if (text === "*") return undefined;
    const digits = /^(?:W\/)?"?(\d+)"?$/.exec(text)?.[1];
    if (digits === undefined) {
      throw new ValidationError(`${where} must be a ${what} number`, [
        { path: where, message: `expected a ${what} (0 when none is stored yet)`, value: text },
      ]);
    }
    const version = Number(digits);
    return version === 0 ? null : version;
  };
  const header = fromHeader === undefined ? undefined : parse(fromHeader, "If-Match");
  const query = fromQuery === undefined ? undefined : parse(fromQuery, "expectedVersion");
  if (header !== undefined && query !== undefined && header !== query) {
    throw new ValidationError("If-Match and expectedVersion disagree; send one of them");
  }
  return header !== undefined ? header : query;
}

/** The ETag of a config version (If-Match takes it back). */
export const versionTag = (version: number) => `"${version}"`;

/** Invalid jobs of a config: name -> its errors (Bistro keeps them, never schedules them). */
function invalidJobs(config: Config): Record<string, ConfigIssue[]> {
  const out: Record<string, ConfigIssue[]> = {};
  for (const job of Object.values(config.jobs)) if (job.errors.length > 0) putEntry(out, job.name, job.errors);
  return out;
}

export async function getConfigView(deps: ApiDeps) {
  const { stored, config } = await requireCurrentConfig(deps);
  return {
    version: stored.version,
    updatedAtMs: stored.updatedAtMs,
    config: stored.document,
    warnings: config.warnings,
    invalidJobs: invalidJobs(config),
    idleReasons: idleReasons(config),
  };
}

/**
 * Validates and stores a whole Bistro document. Refused (nothing stored) when the settings are
 * invalid; invalid jobs are kept, as Bistro keeps them, and listed in the answer.
 */
export async function replaceConfig(deps: ApiDeps, document: unknown, expectedVersion: number | null | undefined) {
  if (!isPlainObject(document)) {
    throw new ValidationError("The config must be a JSON object with bistro_settings and bistro_job->NAME keys");
  }
  const config = checkedConfig(
    deps,
    document,
    (errors) => `The config is invalid (${problems(errors)}); nothing was stored.`,
  );
  const expected = expectedVersion === undefined ? await getCurrentConfigVersion(deps.store) : expectedVersion;
  const version = await putConfig(deps.store, document, expected, deps.clock());
  await pokeQuietly(deps, "config replaced");
  return {
    version,
    warnings: config.warnings,
    invalidJobs: invalidJobs(config),
    idleReasons: idleReasons(config),
  };
}

const problems = (errors: readonly ConfigIssue[]) => `${errors.length} problem${errors.length === 1 ? "" : "s"}`;

/**
 * The parsed config if `document` may be stored: it parses, and its node sources are ones this
 * deployment implements with prefs they accept. Otherwise a ValidationError (nothing is stored,
 * so the running config keeps running).
 */
function checkedConfig(
  deps: ApiDeps,
  document: Record<string, unknown>,
  refusal: (errors: readonly ConfigIssue[]) => string,
): Config {
  const parsed = parseConfig(document);
  if (!parsed.ok) throw new ValidationError(refusal(parsed.errors), parsed.errors);
  const sourceErrors = nodeSourceIssues(parsed.config.settings, nodeSourcesOf(deps));
  if (sourceErrors.length > 0) throw new ValidationError(refusal(sourceErrors), sourceErrors);
  return parsed.config;
}

export async function listJobs(deps: ApiDeps) {
  const { stored, config } = await requireCurrentConfig(deps);
  const jobs: Record<string, unknown> = {};
  for (const job of Object.values(config.jobs)) putEntry(jobs, job.name, serializeJob(job));
  return { version: stored.version, jobs };
}

export async function getJob(deps: ApiDeps, name: string) {
  const { stored, config } = await requireCurrentConfig(deps);
  const job = Object.hasOwn(config.jobs, name) ? config.jobs[name] : undefined;
  if (!job) throw new NotFoundError(`Unknown job ${name}`);
  return { name, version: stored.version, canRun: jobCanRun(job), job: serializeJob(job) };
}

/**
 * Edits the stored document with `edit` and stores it as the next version. Without an expected
 * version a lost race is retried on the new document (the edit touches only its own key).
 */
async function editDocument<T>(
  deps: ApiDeps,
  expectedVersion: number | null | undefined,
  edit: (document: Record<string, unknown>, config: Config) => { result: T; check?: (config: Config) => void },
): Promise<{ version: number; result: T; config: Config }> {
  for (let attempt = 1; ; attempt++) {
    const current = await requireCurrentConfig(deps).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw new NotFoundError(`${NO_CONFIG_MESSAGE} A job needs bistro_settings.`);
      throw error;
    });
    if (expectedVersion !== undefined && current.stored.version !== expectedVersion) {
      throw new ConflictError(
        `The config is at version ${current.stored.version}, not ${expectedVersion ?? "none"}; read it again and retry.`,
      );
    }
    const document: Record<string, unknown> = { ...current.stored.document };
    const { result, check } = edit(document, current.config);
    const config = checkedConfig(deps, document, () => "The change would make the config invalid");
    check?.(config);
    try {
      const version = await putConfig(deps.store, document, current.stored.version, deps.clock());
      return { version, result, config };
    } catch (error) {
      if (!(error instanceof ConflictError) || expectedVersion !== undefined || attempt >= JOB_WRITE_ATTEMPTS) {
        throw error;
      }
    }
  }
}

/**
 * Saves one job (Bistro's save_job): validated against the current settings and the other
 * jobs; an invalid job is refused with every problem listed. create_time is kept from the
 * previous version of the job (or set now), modify_time set now.
 */
export async function saveJob(deps: ApiDeps, name: string, json: unknown, expectedVersion?: number | null) {
  if (name === "") throw new ValidationError("A job needs a name");
  if (!isPlainObject(json)) {
    throw new ValidationError(`Job ${name} must be a JSON object (the value of "${JOB_PREFIX}${name}")`);
  }
  const key = `${JOB_PREFIX}${name}`;
  const nowSec = Math.floor(deps.clock() / 1000);
  const {
    version,
    result: created,
    config,
  } = await editDocument(deps, expectedVersion, (document, current) => {
    const previous = Object.hasOwn(current.jobs, name) ? current.jobs[name] : undefined;
    const job: Record<string, unknown> = { ...json, create_time: previous?.createTime ?? nowSec, modify_time: nowSec };
    putEntry(document, key, job);
    return {
      result: previous === undefined,
      check: (next) => {
        const errors = next.jobs[name]?.errors ?? [];
        if (errors.length > 0) {
          throw new ValidationError(
            `Job ${name} is invalid (${errors.length} problem${errors.length === 1 ? "" : "s"}); nothing was stored.`,
            errors,
          );
        }
      },
    };
  });
  await pokeQuietly(deps, `job ${name} saved`);
  const job = config.jobs[name];
  return { name, version, created, job: job ? serializeJob(job) : undefined };
}

/** Deletes one job (Bistro's delete_job); its running tasks become orphans. */
export async function deleteJob(deps: ApiDeps, name: string, expectedVersion?: number | null) {
  const key = `${JOB_PREFIX}${name}`;
  const { version, config } = await editDocument(deps, expectedVersion, (document) => {
    if (!Object.hasOwn(document, key)) throw new NotFoundError(`Unknown job ${name}`);
    Reflect.deleteProperty(document, key);
    return { result: undefined };
  });
  await pokeQuietly(deps, `job ${name} deleted`);
  return { deleted: name, version, invalidJobs: invalidJobs(config) };
}
