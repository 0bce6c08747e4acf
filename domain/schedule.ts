/**
 * Schedule windows: daily wall-clock windows in a time zone, during which upgrade
 * commands may be pushed (docs/behaviour.md, "Windows").
 *
 * Pure and workflow-safe: no Node APIs, no clock (time is always a parameter), and
 * zone math only through Intl.DateTimeFormat with an explicit timeZone, so the
 * workflow sandbox replays it deterministically.
 *
 * Semantics
 * - A window "HH:MM–HH:MM" opens every day at its start in the schedule's zone; a
 *   window whose end is before its start runs over midnight and belongs to the day it
 *   starts (23:00–01:00 opened Monday 23:00 closes Tuesday 01:00).
 * - A local time is turned into an instant by taking the FIRST instant at which the
 *   zone's clock shows that time or later. So on a spring-forward day a time inside the
 *   gap (02:30 in Europe/Berlin) means the first instant after the gap (03:00), and on
 *   a fall-back day a repeated time means its first occurrence. Both ends of a window
 *   follow this rule, so on those days a window can be up to an hour shorter or longer
 *   in real time. A window lying entirely inside the gap would vanish; it instead opens
 *   after the gap and keeps its nominal length, so no day silently loses its window.
 * - Windows that touch (02:00–04:00 and 04:00–06:00) form one open period: closesAtMs
 *   is the end of the whole period, so a workflow does not see a spurious close/open.
 *   Windows covering all 24 hours are "always open", like no schedule at all.
 */
import type { ErrorDetail } from './errors';
import { MIN_WINDOW_MINUTES, type Schedule, type ScheduleWindow } from './types';

export const MAX_WINDOWS = 24;

export interface WindowState {
  open: boolean;
  /** When open: atMs itself (the earliest instant >= atMs that is open). When closed: the next opening, > atMs. */
  opensAtMs: number;
  /** When the open period (current if open, next if closed) ends; null when always open. */
  closesAtMs: number | null;
}

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;
const DAY_MS = DAY_MINUTES * MINUTE_MS;
const HOUR_MS = 60 * MINUTE_MS;

// ---------------------------------------------------------------- validation

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

function parseTime(value: unknown, allow24: boolean): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (allow24 && value === '24:00') return DAY_MINUTES;
  const m = TIME.exec(value);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/** Minutes from start to end, going over midnight when end < start. */
function lengthMinutes(start: number, end: number): number {
  return end > start ? end - start : end + DAY_MINUTES - start;
}

/** Do two windows share any minute on the circular 24 h day? (Touching is fine.) */
function overlaps(aStart: number, aLen: number, bStart: number, bLen: number): boolean {
  const bFromA = (((bStart - aStart) % DAY_MINUTES) + DAY_MINUTES) % DAY_MINUTES;
  const aFromB = (DAY_MINUTES - bFromA) % DAY_MINUTES;
  return bFromA < aLen || aFromB < bLen;
}

const label = (w: ScheduleWindow): string => `${w.start}–${w.end}`;

/** Every reason the schedule is unusable, each with the path of the offending field. */
export function scheduleProblems(schedule: Schedule, basePath: string): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const tz = timezoneProblem(schedule.timezone);
  if (tz) problems.push({ path: `${basePath}/timezone`, message: tz });

  const windows: unknown = schedule.windows;
  if (!Array.isArray(windows) || windows.length === 0 || windows.length > MAX_WINDOWS) {
    problems.push({
      path: `${basePath}/windows`,
      message: `windows must be a list of 1 to ${MAX_WINDOWS} windows`,
    });
    return problems;
  }
  const parsed: { index: number; start: number; len: number; window: ScheduleWindow }[] = [];
  windows.forEach((raw: unknown, i) => {
    const path = `${basePath}/windows/${i}`;
    if (typeof raw !== 'object' || raw === null) {
      problems.push({ path, message: 'a window must be an object {start, end}' });
      return;
    }
    const window = raw as ScheduleWindow;
    const start = parseTime(window.start, false);
    const end = parseTime(window.end, true);
    if (start === undefined) {
      problems.push({ path: `${path}/start`, message: `start must be a time "HH:MM" from 00:00 to 23:59` });
    }
    if (end === undefined) {
      problems.push({ path: `${path}/end`, message: `end must be a time "HH:MM" from 00:00 to 24:00` });
    }
    if (start === undefined || end === undefined) return;
    if (start === end) {
      problems.push({ path, message: `window ${label(window)} is empty; use 00:00–24:00 for all day` });
      return;
    }
    const len = lengthMinutes(start, end);
    if (len < MIN_WINDOW_MINUTES) {
      problems.push({
        path,
        message: `window ${label(window)} is ${len} minutes; each window must be at least ${MIN_WINDOW_MINUTES} minutes`,
      });
      return;
    }
    for (const other of parsed) {
      if (overlaps(other.start, other.len, start, len)) {
        problems.push({
          path,
          message: `window ${label(window)} overlaps window ${label(other.window)} (windows/${other.index})`,
        });
      }
    }
    parsed.push({ index: i, start, len, window });
  });
  return problems;
}

function timezoneProblem(timezone: unknown): string | undefined {
  if (typeof timezone !== 'string' || timezone === '') {
    return 'timezone must be an IANA time zone name such as "Asia/Shanghai"';
  }
  // Offsets are rejected even where Intl accepts them (newer Node versions do): a
  // workflow may replay on another Node version, and the schedule must mean the same.
  if (/^[+\-\u2212\d]/.test(timezone)) {
    return `timezone "${timezone}" is a UTC offset; use an IANA name such as "Asia/Shanghai" or "Etc/GMT-8"`;
  }
  try {
    formatter(timezone);
    return undefined;
  } catch {
    return `timezone "${timezone}" is not a known IANA time zone`;
  }
}

// ---------------------------------------------------------------- zone math

// Constructing a DateTimeFormat is the expensive part; the cache is deterministic.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's UTC offset in ms at instant t (local wall clock = t + offset), to the second. */
function offsetAt(timeZone: string, t: number): number {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(t)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second);
  return wall - (t - (((t % 1000) + 1000) % 1000));
}

// Offsets sampled once per local day at a fixed point; bounded so a long-lived worker cannot grow it.
const samples = new Map<string, number>();

function dailySample(timeZone: string, day: number): number {
  const key = `${timeZone}|${day}`;
  let off = samples.get(key);
  if (off === undefined) {
    if (samples.size > 4096) samples.clear();
    off = offsetAt(timeZone, day * DAY_MS + 9 * HOUR_MS);
    samples.set(key, off);
  }
  return off;
}

/**
 * The first instant at which the zone's clock shows `wall` (local ms, as if UTC) or
 * later. `before`/`after` are offsets sampled on either side of every instant the
 * wall time can map to; zones never change offset twice within those four days, so
 * equal samples mean a fixed offset and cost no further Intl call.
 */
function wallToInstant(timeZone: string, wall: number, before: number, after: number): number {
  if (before === after) return wall - before;
  const early = wall - before;
  const late = wall - after;
  const earlyOk = offsetAt(timeZone, early) === before;
  const lateOk = offsetAt(timeZone, late) === after;
  if (earlyOk && lateOk) return Math.min(early, late); // repeated time: first occurrence
  if (earlyOk) return early;
  if (lateOk) return late;
  // Skipped time: find the transition (whole seconds) between the two candidates.
  let lo = Math.min(early, late);
  let hi = Math.max(early, late);
  const loOffset = offsetAt(timeZone, lo);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(timeZone, mid) === loOffset) lo = mid;
    else hi = mid;
  }
  return hi;
}

interface Compiled {
  timeZone: string;
  windows: { start: number; len: number }[];
  allDay: boolean;
}

function compile(schedule: Schedule): Compiled {
  const windows: { start: number; len: number }[] = [];
  for (const w of schedule.windows) {
    const start = parseTime(w.start, false);
    const end = parseTime(w.end, true);
    // Schedules are validated before a task is created; anything unparsable is ignored, not guessed.
    if (start === undefined || end === undefined || start === end) continue;
    windows.push({ start, len: lengthMinutes(start, end) });
  }
  const total = windows.reduce((sum, w) => sum + w.len, 0);
  return { timeZone: schedule.timezone, windows, allDay: total >= DAY_MINUTES };
}

/** Real-time [open, close) intervals of every window opened on local days first..last, merged when touching. */
function openPeriods(c: Compiled, first: number, last: number): [number, number][] {
  const occurrences: [number, number][] = [];
  for (let day = first; day <= last; day++) {
    // Every instant this day's windows can map to lies in [day - 14h, day + 2 days + 12h].
    const before = dailySample(c.timeZone, day - 1);
    const after = dailySample(c.timeZone, day + 3);
    for (const w of c.windows) {
      const startWall = day * DAY_MS + w.start * MINUTE_MS;
      const open = wallToInstant(c.timeZone, startWall, before, after);
      let close = wallToInstant(c.timeZone, startWall + w.len * MINUTE_MS, before, after);
      if (close <= open) close = open + w.len * MINUTE_MS; // window wholly inside a skipped hour
      occurrences.push([open, close]);
    }
  }
  occurrences.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [open, close] of occurrences) {
    const lastPeriod = merged[merged.length - 1];
    if (lastPeriod && open <= lastPeriod[1]) lastPeriod[1] = Math.max(lastPeriod[1], close);
    else merged.push([open, close]);
  }
  return merged;
}

// ---------------------------------------------------------------- queries

/** Whether pushes are allowed at atMs, when the open period ends, or when the next one starts. */
export function windowState(schedule: Schedule | undefined, atMs: number): WindowState {
  if (!schedule) return { open: true, opensAtMs: atMs, closesAtMs: null };
  const c = compile(schedule);
  if (c.allDay) return { open: true, opensAtMs: atMs, closesAtMs: null };
  if (c.windows.length === 0) throw new RangeError('schedule has no usable window; validate it with scheduleProblems');
  const today = Math.floor((atMs + offsetAt(c.timeZone, atMs)) / DAY_MS);
  // Yesterday's windows may still be open; tomorrow's surely open after atMs; the day after
  // completes a chain of touching windows that started tomorrow.
  for (const [open, close] of openPeriods(c, today - 1, today + 2)) {
    if (open <= atMs && atMs < close) return { open: true, opensAtMs: atMs, closesAtMs: close };
    if (open > atMs) return { open: false, opensAtMs: open, closesAtMs: close };
  }
  throw new RangeError('no window opens within two days'); // unreachable: every window opens daily
}

export function isWindowOpen(schedule: Schedule | undefined, atMs: number): boolean {
  return windowState(schedule, atMs).open;
}

/** The earliest instant >= atMs at which a window is open (atMs itself when open). */
export function nextOpeningMs(schedule: Schedule | undefined, atMs: number): number {
  return windowState(schedule, atMs).opensAtMs;
}

/** A short summary for Web UI and logs, e.g. "daily 02:00–04:00 Asia/Shanghai". */
export function describeSchedule(schedule: Schedule | undefined): string {
  if (!schedule) return 'all day';
  const windows = [...schedule.windows].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  if (compile(schedule).allDay) return `all day ${schedule.timezone}`;
  return `daily ${windows.map(label).join(', ')} ${schedule.timezone}`;
}
