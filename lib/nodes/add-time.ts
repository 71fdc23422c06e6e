// The `add_time` node source (Bistro's AddTimeFetcher): for each parent, one child per recent
// time slot of a schedule, named by `format` (default "{parent}:{time}", {time} = Unix seconds).
// Each `schedule` item has a `cron` (Bistro's cron JSON), a `lifetime` (a slot exists while
// now - lifetime < t <= now), an `enabled_lifetime` (the slot is enabled while now - t is below
// it; default the lifetime) and `tags`. A slot made by several items gets the union of their
// tags and is enabled only if every one of them enables it. Standard cron fields read the clock
// of `time_zone` (an IANA name; default UTC). Pure: the refresh's `now` is the clock.
import type { NodeSpec } from "../model/tree";
import { CronError, parseCron, type CronItem } from "./cron";
import { compileFormat } from "./format";
import { describePref, levelBelowParents, NodeSourceError, type NodeSource, type NodeSourceContext } from "./source";
import { TimeZone, TimeZoneError } from "./time-zone";

const DEFAULT_FORMAT = "{parent}:{time}";
export const DEFAULT_TIME_ZONE = "UTC";
/** Guard against a schedule such as every minute for a year exhausting memory. */
export const MAX_ADD_TIME_SLOTS = 100_000;
export const MAX_ADD_TIME_NODES = 10_000_000;

interface ScheduleItem {
  cron: CronItem;
  lifetime: number;
  enabledLifetime: number;
  tags: string[];
}

interface Slot {
  tags: Set<string>;
  enabled: boolean;
}

export function addTimeNodes(context: NodeSourceContext): NodeSpec[] {
  const { prefs } = context;
  const format = prefs.format ?? DEFAULT_FORMAT;
  if (typeof format !== "string") throw new NodeSourceError(`"format" must be a string, found ${describePref(format)}`);
  const render = compileFormat(format, ["parent", "time"]);
  const zone = timeZone(prefs.time_zone);
  const schedule = prefs.schedule ?? [];
  if (!Array.isArray(schedule))
    throw new NodeSourceError(`"schedule" must be an array, found ${describePref(schedule)}`);
  const items = (schedule as unknown[]).map((item, index) => scheduleItem(item, index, zone));
  const slots = timeSlots(items, Math.floor(context.now));
  const { level, parents } = levelBelowParents(context);
  const count = slots.size * parents.length;
  if (count > MAX_ADD_TIME_NODES) {
    throw new NodeSourceError(`add_time would create ${count} nodes; the limit is ${MAX_ADD_TIME_NODES}`);
  }
  const times = [...slots.keys()].sort((a, b) => a - b);
  const nodes: NodeSpec[] = [];
  for (const parent of parents) {
    for (const time of times) {
      const slot = slots.get(time) as Slot;
      nodes.push({
        name: render({ parent, time: String(time) }),
        level,
        parent,
        enabled: slot.enabled,
        tags: [...slot.tags].sort(),
      });
    }
  }
  return nodes;
}

/** Every slot of every item with now - lifetime < t <= now: Unix seconds -> tags and enabled. */
export function timeSlots(items: readonly ScheduleItem[], now: number): Map<number, Slot> {
  const slots = new Map<number, Slot>();
  for (const item of items) {
    let from = now - item.lifetime + 1;
    for (;;) {
      const time = item.cron.firstMatch(from);
      if (time === null || time > now) break;
      const enabled = now - time < item.enabledLifetime;
      const slot = slots.get(time);
      if (slot) {
        for (const tag of item.tags) slot.tags.add(tag);
        slot.enabled &&= enabled;
      } else {
        if (slots.size >= MAX_ADD_TIME_SLOTS) {
          throw new NodeSourceError(`add_time would create more than ${MAX_ADD_TIME_SLOTS} slots per parent`);
        }
        slots.set(time, { tags: new Set(item.tags), enabled });
      }
      from = time + 1;
    }
  }
  return slots;
}

function timeZone(value: unknown): TimeZone {
  if (value === undefined) return new TimeZone(DEFAULT_TIME_ZONE);
  if (typeof value !== "string")
    throw new NodeSourceError(`"time_zone" must be a string, found ${describePref(value)}`);
  try {
    return new TimeZone(value);
  } catch (error) {
    if (error instanceof TimeZoneError) throw new NodeSourceError(`"time_zone": ${error.message}`);
    throw error;
  }
}

function scheduleItem(value: unknown, index: number, zone: TimeZone): ScheduleItem {
  const where = `schedule.${index}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new NodeSourceError(`${where}: "schedule" items must be objects, found ${describePref(value)}`);
  }
  const spec = value as Record<string, unknown>;
  const lifetime = seconds(spec.lifetime, `${where}.lifetime`, 1);
  if (lifetime === undefined) throw new NodeSourceError(`${where}: add_time: each item needs a lifetime (seconds > 0)`);
  const enabledLifetime = seconds(spec.enabled_lifetime, `${where}.enabled_lifetime`, 0) ?? lifetime;
  const tags = spec.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === "string")) {
    throw new NodeSourceError(`${where}.tags: "tags" must be an array of strings`);
  }
  if (spec.cron === undefined) throw new NodeSourceError(`${where}: each item needs a "cron"`);
  try {
    return { cron: parseCron(spec.cron, zone), lifetime, enabledLifetime, tags };
  } catch (error) {
    if (error instanceof CronError) throw new NodeSourceError(`${where}.cron: ${error.message}`);
    throw error;
  }
}

/** A whole number of seconds >= min (a string of digits too, as Bistro converts). */
function seconds(value: unknown, where: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < min) {
    throw new NodeSourceError(`${where} must be a whole number of seconds >= ${min}, found ${describePref(value)}`);
  }
  return number;
}

/**
 * When the slots next change after `now`: a new slot opens, or an existing one stops being
 * enabled or expires. Null when no item has another match.
 */
export function addTimeNextChange(context: Pick<NodeSourceContext, "prefs" | "now">): number | null {
  const zone = timeZone(context.prefs.time_zone);
  const schedule = context.prefs.schedule ?? [];
  if (!Array.isArray(schedule)) return null;
  const now = Math.floor(context.now);
  let next: number | null = null;
  const consider = (time: number | null) => {
    if (time !== null && time > now && (next === null || time < next)) next = time;
  };
  for (const [index, value] of (schedule as unknown[]).entries()) {
    const item = scheduleItem(value, index, zone);
    consider(item.cron.firstMatch(now + 1));
    // The oldest enabled slot is the first to stop being enabled; the oldest slot, the first to expire.
    const oldestEnabled = item.cron.firstMatch(now - item.enabledLifetime + 1);
    if (oldestEnabled !== null && oldestEnabled <= now) consider(oldestEnabled + item.enabledLifetime);
    const oldest = item.cron.firstMatch(now - item.lifetime + 1);
    if (oldest !== null && oldest <= now) consider(oldest + item.lifetime);
  }
  return next;
}

export const addTimeSource: NodeSource = { name: "add_time", fetch: addTimeNodes, nextChange: addTimeNextChange };
