/**
 * Danish calendar for deadline counting (RULES.md "Counting days").
 *
 * Local dates are `YYYY-MM-DD` strings in Europe/Copenhagen. Date arithmetic
 * on them is done on the proleptic Gregorian calendar via UTC midnight, which
 * has no DST and so no 23/25-hour days. Instants are converted with
 * Intl.DateTimeFormat and the IANA zone, never with a fixed offset.
 *
 * All functions are pure (no I/O, no clock reads).
 */

import { DATE_RE, isDateString } from '../shared/identifiers.js';

export const TIME_ZONE = 'Europe/Copenhagen';

const DAY_MS = 86_400_000;
/** ISO 8601 instant with an explicit zone (Z or ±hh:mm); a zone-less string would depend on the host's TZ. */
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** True if `s` is an ISO 8601 instant with an explicit offset (Z or ±hh:mm) that parses. */
export function isInstantString(s: unknown): s is string {
  return typeof s === 'string' && INSTANT_RE.test(s) && !Number.isNaN(Date.parse(s));
}

function assertDate(date: string, fn: string): void {
  if (!isDateString(date)) throw new RangeError(`${fn}: expected a real date YYYY-MM-DD, got ${JSON.stringify(date)}`);
}

/** Milliseconds since the epoch of UTC midnight of a YYYY-MM-DD date. */
function dateToUtcMs(date: string): number {
  const m = DATE_RE.exec(date)!;
  const t = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  t.setUTCFullYear(Number(m[1]));
  return t.getTime();
}

function utcMsToDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** ISO weekday: 1 = Monday … 7 = Sunday. */
export function isoWeekday(date: string): number {
  assertDate(date, 'isoWeekday');
  const d = new Date(dateToUtcMs(date)).getUTCDay();
  return d === 0 ? 7 : d;
}

/** The date n calendar days after `date` (n may be negative). */
export function addDays(date: string, n: number): string {
  assertDate(date, 'addDays');
  if (!Number.isInteger(n)) throw new RangeError(`addDays: n must be an integer, got ${n}`);
  return utcMsToDate(dateToUtcMs(date) + n * DAY_MS);
}

/** Calendar days from `from` to `to` (positive when `to` is later). */
export function daysBetween(from: string, to: string): number {
  assertDate(from, 'daysBetween');
  assertDate(to, 'daysBetween');
  return Math.round((dateToUtcMs(to) - dateToUtcMs(from)) / DAY_MS);
}

/** Easter Sunday of a Gregorian year (anonymous Gregorian / Meeus–Jones–Butcher algorithm). */
export function easterSunday(year: number): string {
  if (!Number.isInteger(year) || year < 1583 || year > 9999) {
    throw new RangeError(`easterSunday: year must be an integer 1583–9999, got ${year}`);
  }
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
}

/** Store bededag (Easter + 26) was abolished as a public holiday from 2024. */
export const LAST_STORE_BEDEDAG_YEAR = 2023;

const holidayCache = new Map<number, ReadonlyMap<string, string>>();

/**
 * Danish public holidays (helligdage) of a year: date → Danish name.
 * Does not include 5 June, 24 Dec or 31 Dec, which are closed days but not
 * public holidays (see isClosedDay).
 */
export function publicHolidays(year: number): ReadonlyMap<string, string> {
  const cached = holidayCache.get(year);
  if (cached) return cached;
  const easter = easterSunday(year);
  const y = pad(year, 4);
  const entries: [string, string][] = [
    [`${y}-01-01`, 'Nytårsdag'],
    [addDays(easter, -3), 'Skærtorsdag'],
    [addDays(easter, -2), 'Langfredag'],
    [easter, 'Påskedag'],
    [addDays(easter, 1), '2. påskedag'],
  ];
  if (year <= LAST_STORE_BEDEDAG_YEAR) entries.push([addDays(easter, 26), 'Store bededag']);
  entries.push(
    [addDays(easter, 39), 'Kristi himmelfartsdag'],
    [addDays(easter, 49), 'Pinsedag'],
    [addDays(easter, 50), '2. pinsedag'],
    [`${y}-12-25`, 'Juledag'],
    [`${y}-12-26`, '2. juledag'],
  );
  entries.sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0));
  const map: ReadonlyMap<string, string> = new Map(entries);
  holidayCache.set(year, map);
  return map;
}

/** Days that are not public holidays but on which deadlines do not end (the list used by Danish statutes). */
const OTHER_CLOSED: Record<string, string> = {
  '06-05': 'Grundlovsdag',
  '12-24': 'Juleaftensdag',
  '12-31': 'Nytårsaftensdag',
};

/**
 * Why a date is closed, or null if it is a working day: "lørdag", "søndag",
 * a holiday's name, Grundlovsdag, Juleaftensdag or Nytårsaftensdag.
 */
export function closedReason(date: string): string | null {
  assertDate(date, 'closedReason');
  const holiday = publicHolidays(Number(date.slice(0, 4))).get(date);
  if (holiday) return holiday;
  const other = OTHER_CLOSED[date.slice(5)];
  if (other) return other;
  const wd = isoWeekday(date);
  if (wd === 6) return 'lørdag';
  if (wd === 7) return 'søndag';
  return null;
}

/** Saturday, Sunday, public holiday, 5 June, 24 December or 31 December. */
export function isClosedDay(date: string): boolean {
  return closedReason(date) !== null;
}

/** `date` itself if open, otherwise the next day that is not closed. */
export function rollForward(date: string): string {
  assertDate(date, 'rollForward');
  let d = date;
  while (isClosedDay(d)) d = addDays(d, 1);
  return d;
}

/**
 * The n-th working day before `date` (working day = not closed; `date` itself
 * is not counted). n = 0 returns `date`. Used for "at risk" warnings, e.g.
 * workingDaysBefore(dueDate, 2).
 */
export function workingDaysBefore(date: string, n: number): string {
  assertDate(date, 'workingDaysBefore');
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`workingDaysBefore: n must be a non-negative integer, got ${n}`);
  let d = date;
  let left = n;
  while (left > 0) {
    d = addDays(d, -1);
    if (!isClosedDay(d)) left--;
  }
  return d;
}

const partsFormatter = new Intl.DateTimeFormat('en-US', {
  timeZone: TIME_ZONE,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  era: 'short',
});

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * Copenhagen's offset from UTC by UTC hour. The offset changes only on whole UTC hours (every
 * daylight-saving switch since the time zone's standard time of 1894 has), so within the
 * cached range one Intl lookup per hour serves every instant of it: reports recompute tens of
 * thousands of clocks, and Intl's formatToParts was most of their time.
 */
const offsetByHour = new Map<number, number>();
const OFFSET_CACHE_MAX = 200_000;
const CACHED_FROM_MS = Date.UTC(1900, 0, 1);
const CACHED_TO_MS = Date.UTC(2200, 0, 1);
const HOUR_MS = 3_600_000;

function wallClock(ms: number): WallClock {
  if (ms < CACHED_FROM_MS || ms >= CACHED_TO_MS) return wallClockOfParts(ms);
  const hour = Math.floor(ms / HOUR_MS);
  let offset = offsetByHour.get(hour);
  if (offset === undefined) {
    const w = wallClockOfParts(hour * HOUR_MS);
    offset = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - hour * HOUR_MS;
    if (offsetByHour.size >= OFFSET_CACHE_MAX) offsetByHour.clear();
    offsetByHour.set(hour, offset);
  }
  const d = new Date(ms + offset);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

function wallClockOfParts(ms: number): WallClock {
  const out: Record<string, string> = {};
  for (const p of partsFormatter.formatToParts(new Date(ms))) out[p.type] = p.value;
  let year = Number(out.year);
  if (out.era && /^B/i.test(out.era)) year = 1 - year;
  return {
    year,
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour) % 24,
    minute: Number(out.minute),
    second: Number(out.second),
  };
}

/** The Copenhagen wall-clock time of an instant, `YYYY-MM-DDTHH:mm:ss` (no offset). */
export function localDateTime(instant: string | Date | number): string {
  const w = wallClock(toMs(instant, 'localDateTime'));
  const two = (n: number) => String(n).padStart(2, '0');
  return `${String(w.year).padStart(4, '0')}-${two(w.month)}-${two(w.day)}T${two(w.hour)}:${two(w.minute)}:${two(w.second)}`;
}

/** Offset of Europe/Copenhagen from UTC at instant `ms`, in ms (3_600_000 in winter, 7_200_000 in summer). */
export function copenhagenOffsetMs(ms: number): number {
  const w = wallClock(ms);
  const asUtc = new Date(Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second));
  asUtc.setUTCFullYear(w.year);
  const wholeSeconds = Math.floor(ms / 1000) * 1000;
  return asUtc.getTime() - wholeSeconds;
}

function toMs(instant: string | Date | number, fn: string): number {
  let ms: number;
  if (instant instanceof Date) ms = instant.getTime();
  else if (typeof instant === 'number') ms = instant;
  else if (isInstantString(instant)) ms = Date.parse(instant);
  else throw new RangeError(`${fn}: expected an ISO 8601 instant with Z or an offset, got ${JSON.stringify(instant)}`);
  if (!Number.isFinite(ms)) throw new RangeError(`${fn}: invalid instant ${String(instant)}`);
  return ms;
}

/** The local date (Europe/Copenhagen) of an instant, YYYY-MM-DD. */
export function localDate(instant: string | Date | number): string {
  const w = wallClock(toMs(instant, 'localDate'));
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
}

/** Normalise an instant to UTC ISO with milliseconds (`toISOString`). */
export function toUtcIso(instant: string | Date | number): string {
  return new Date(toMs(instant, 'toUtcIso')).toISOString();
}

/**
 * The UTC instant (ms) at which local wall-clock time `wallMs` (expressed as
 * if it were UTC) occurs in Copenhagen. For wall times that exist exactly once
 * (all times except the skipped/repeated hour at a DST switch, which is never
 * midnight or 23:59 in Denmark), the two-step fixed point is exact.
 */
function wallToUtcMs(wallMs: number): number {
  const first = wallMs - copenhagenOffsetMs(wallMs);
  return wallMs - copenhagenOffsetMs(first);
}

/** The UTC ISO instant of 00:00:00.000 local time on `date`. */
export function startOfLocalDay(date: string): string {
  assertDate(date, 'startOfLocalDay');
  return new Date(wallToUtcMs(dateToUtcMs(date))).toISOString();
}

/**
 * The UTC ISO instant of 23:59:59.999 local time (Europe/Copenhagen) on
 * `date`: the last millisecond of the local day, i.e. one millisecond before
 * the next local midnight. Correct on the 23-hour (March) and 25-hour
 * (October) days.
 */
export function endOfLocalDay(date: string): string {
  assertDate(date, 'endOfLocalDay');
  const nextMidnight = wallToUtcMs(dateToUtcMs(addDays(date, 1)));
  return new Date(nextMidnight - 1).toISOString();
}

const atRiskCache = new Map<string, number>();
/** Due dates are few (one a day), so the cache stays small; emptied should it ever grow large. */
const AT_RISK_CACHE_MAX = 10_000;

/**
 * The instant (epoch ms) a deadline due on `dueDate` becomes at risk: start of the local day `workingDays` working days before it.
 * Memoised: the lists classify thousands of open cases at once, and the time-zone arithmetic is the costly part.
 */
export function atRiskInstant(dueDate: string, workingDays: number): number {
  const key = `${dueDate}|${workingDays}`;
  const cached = atRiskCache.get(key);
  if (cached !== undefined) return cached;
  const at = Date.parse(startOfLocalDay(workingDaysBefore(dueDate, workingDays)));
  if (atRiskCache.size >= AT_RISK_CACHE_MAX) atRiskCache.clear();
  atRiskCache.set(key, at);
  return at;
}
