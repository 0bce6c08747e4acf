import { describeSchedule, isWindowOpen, nextOpeningMs, scheduleProblems, windowState } from '../../domain/schedule';
import type { Schedule } from '../../domain/types';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const schedule = (timezone: string, ...windows: [string, string][]): Schedule => ({
  timezone,
  windows: windows.map(([start, end]) => ({ start, end })),
});
/** windowState with instants as ISO strings, so expectations read like the spec. */
const stateAt = (s: Schedule | undefined, when: string) => {
  const st = windowState(s, at(when));
  return { open: st.open, opensAt: iso(st.opensAtMs), closesAt: iso(st.closesAtMs) };
};

describe('schedule windows', () => {
  it('is always open without a schedule', () => {
    expect(stateAt(undefined, '2024-06-10T03:00:00.000Z')).toEqual({
      open: true,
      opensAt: '2024-06-10T03:00:00.000Z',
      closesAt: null,
    });
    expect(isWindowOpen(undefined, 0)).toBe(true);
    expect(nextOpeningMs(undefined, 12345)).toBe(12345);
  });

  it('treats windows covering all 24 hours as always open', () => {
    const s = schedule('Europe/Berlin', ['00:00', '12:00'], ['12:00', '24:00']);
    expect(stateAt(s, '2024-03-31T01:30:00.000Z')).toMatchObject({ open: true, closesAt: null });
    expect(describeSchedule(s)).toBe('all day Europe/Berlin');
  });

  describe('a simple window (Asia/Shanghai, UTC+8, 02:00–04:00)', () => {
    const s = schedule('Asia/Shanghai', ['02:00', '04:00']);
    it('waits before the window for today’s opening', () => {
      expect(stateAt(s, '2024-06-09T17:00:00.000Z')).toEqual({
        open: false,
        opensAt: '2024-06-09T18:00:00.000Z',
        closesAt: '2024-06-09T20:00:00.000Z',
      });
    });
    it('is open inside the window, from its first minute until its end', () => {
      expect(stateAt(s, '2024-06-09T18:00:00.000Z')).toEqual({
        open: true,
        opensAt: '2024-06-09T18:00:00.000Z',
        closesAt: '2024-06-09T20:00:00.000Z',
      });
      expect(isWindowOpen(s, at('2024-06-09T19:59:59.999Z'))).toBe(true);
    });
    it('waits after the window for tomorrow’s opening', () => {
      expect(stateAt(s, '2024-06-09T20:00:00.000Z')).toEqual({
        open: false,
        opensAt: '2024-06-10T18:00:00.000Z',
        closesAt: '2024-06-10T20:00:00.000Z',
      });
    });
  });

  describe('a window over midnight (Asia/Shanghai 23:00–01:00)', () => {
    const s = schedule('Asia/Shanghai', ['23:00', '01:00']);
    it('is open at 23:30 and closes at 01:00 the next day', () => {
      expect(stateAt(s, '2024-06-10T15:30:00.000Z')).toEqual({
        open: true,
        opensAt: '2024-06-10T15:30:00.000Z',
        closesAt: '2024-06-10T17:00:00.000Z',
      });
    });
    it('is still open at 00:30 (the window belongs to the day it started)', () => {
      expect(stateAt(s, '2024-06-10T16:30:00.000Z')).toMatchObject({
        open: true,
        closesAt: '2024-06-10T17:00:00.000Z',
      });
    });
    it('is closed at 01:30 and opens again at 23:00', () => {
      expect(stateAt(s, '2024-06-10T17:30:00.000Z')).toEqual({
        open: false,
        opensAt: '2024-06-11T15:00:00.000Z',
        closesAt: '2024-06-11T17:00:00.000Z',
      });
    });
  });

  it('chooses the nearest of several windows, in any order', () => {
    const s = schedule('Asia/Shanghai', ['20:00', '21:00'], ['02:00', '04:00'], ['14:00', '15:00']);
    expect(stateAt(s, '2024-06-10T02:00:00.000Z').opensAt).toBe('2024-06-10T06:00:00.000Z'); // 10:00 → 14:00
    expect(stateAt(s, '2024-06-10T07:30:00.000Z').opensAt).toBe('2024-06-10T12:00:00.000Z'); // 15:30 → 20:00
    expect(stateAt(s, '2024-06-10T13:30:00.000Z').opensAt).toBe('2024-06-10T18:00:00.000Z'); // 21:30 → 02:00
    expect(describeSchedule(s)).toBe('daily 02:00–04:00, 14:00–15:00, 20:00–21:00 Asia/Shanghai');
  });

  it('treats touching windows as one open period', () => {
    const s = schedule('UTC', ['02:00', '04:00'], ['04:00', '06:00']);
    expect(stateAt(s, '2024-06-10T03:00:00.000Z').closesAt).toBe('2024-06-10T06:00:00.000Z');
    expect(isWindowOpen(s, at('2024-06-10T04:00:00.000Z'))).toBe(true);
    expect(stateAt(s, '2024-06-10T01:00:00.000Z')).toMatchObject({ closesAt: '2024-06-10T06:00:00.000Z' });
  });

  it('uses the zone’s offset: negative (New York) and half-hour (Kolkata)', () => {
    const ny = schedule('America/New_York', ['22:00', '23:00']);
    expect(stateAt(ny, '2024-07-01T12:00:00.000Z')).toMatchObject({
      open: false,
      opensAt: '2024-07-02T02:00:00.000Z',
      closesAt: '2024-07-02T03:00:00.000Z',
    });
    expect(stateAt(ny, '2024-01-15T12:00:00.000Z').opensAt).toBe('2024-01-16T03:00:00.000Z'); // EST, UTC-5
    const kolkata = schedule('Asia/Kolkata', ['02:00', '04:00']);
    expect(stateAt(kolkata, '2024-06-09T20:29:00.000Z')).toMatchObject({
      open: false,
      opensAt: '2024-06-09T20:30:00.000Z',
      closesAt: '2024-06-09T22:30:00.000Z',
    });
    expect(isWindowOpen(kolkata, at('2024-06-09T22:29:00.000Z'))).toBe(true);
  });

  describe('daylight saving in Europe/Berlin', () => {
    // 2024-03-31: 02:00 CET jumps to 03:00 CEST at 01:00Z. 2024-10-27: 03:00 CEST falls back to 02:00 CET at 01:00Z.
    it('opens a window starting in the skipped hour at the first instant after the gap', () => {
      const s = schedule('Europe/Berlin', ['02:30', '04:00']);
      expect(stateAt(s, '2024-03-31T00:00:00.000Z')).toEqual({
        open: false,
        opensAt: '2024-03-31T01:00:00.000Z', // 03:00 CEST
        closesAt: '2024-03-31T02:00:00.000Z', // 04:00 CEST: one hour instead of 1.5
      });
      expect(stateAt(s, '2024-03-31T03:00:00.000Z').opensAt).toBe('2024-04-01T00:30:00.000Z'); // 02:30 CEST
    });
    it('keeps the nominal length of a window lying wholly inside the skipped hour', () => {
      const s = schedule('Europe/Berlin', ['02:00', '02:30']);
      expect(stateAt(s, '2024-03-30T23:00:00.000Z')).toMatchObject({
        opensAt: '2024-03-31T01:00:00.000Z',
        closesAt: '2024-03-31T01:30:00.000Z',
      });
    });
    it('shortens a window spanning the spring-forward change by an hour', () => {
      const s = schedule('Europe/Berlin', ['01:00', '04:00']);
      expect(stateAt(s, '2024-03-31T00:30:00.000Z')).toEqual({
        open: true,
        opensAt: '2024-03-31T00:30:00.000Z', // 01:30 CET
        closesAt: '2024-03-31T02:00:00.000Z',
      });
      expect(stateAt(s, '2024-03-30T22:00:00.000Z').opensAt).toBe('2024-03-31T00:00:00.000Z');
    });
    it('opens a window at the first occurrence of a repeated time and lengthens it by an hour', () => {
      const s = schedule('Europe/Berlin', ['02:30', '03:30']);
      expect(stateAt(s, '2024-10-27T00:00:00.000Z')).toEqual({
        open: false,
        opensAt: '2024-10-27T00:30:00.000Z', // first 02:30 (CEST)
        closesAt: '2024-10-27T02:30:00.000Z', // 03:30 CET
      });
      expect(isWindowOpen(s, at('2024-10-27T01:45:00.000Z'))).toBe(true); // second 02:45 (CET)
    });
    it('keeps an over-midnight window spanning the fall-back change open an hour longer', () => {
      const s = schedule('Europe/Berlin', ['23:00', '04:00']);
      expect(stateAt(s, '2024-10-26T21:00:00.000Z')).toMatchObject({
        open: true,
        closesAt: '2024-10-27T03:00:00.000Z', // 04:00 CET, six real hours
      });
    });
  });

  describe('daylight saving in America/New_York', () => {
    // 2024-03-10: 02:00 EST jumps to 03:00 EDT at 07:00Z. 2024-11-03: 02:00 EDT falls back to 01:00 EST at 06:00Z.
    it('moves a window inside the gap to just after it', () => {
      const s = schedule('America/New_York', ['02:15', '03:00']);
      expect(stateAt(s, '2024-03-10T05:00:00.000Z')).toEqual({
        open: false,
        opensAt: '2024-03-10T07:00:00.000Z',
        closesAt: '2024-03-10T07:45:00.000Z',
      });
    });
    it('shortens a window spanning the spring-forward change', () => {
      const s = schedule('America/New_York', ['01:30', '03:30']);
      expect(stateAt(s, '2024-03-10T05:00:00.000Z')).toMatchObject({
        opensAt: '2024-03-10T06:30:00.000Z',
        closesAt: '2024-03-10T07:30:00.000Z',
      });
    });
    it('lengthens a window spanning the fall-back change', () => {
      const s = schedule('America/New_York', ['01:00', '02:00']);
      expect(stateAt(s, '2024-11-03T04:00:00.000Z')).toMatchObject({
        opensAt: '2024-11-03T05:00:00.000Z', // 01:00 EDT
        closesAt: '2024-11-03T07:00:00.000Z', // 02:00 EST
      });
      expect(isWindowOpen(s, at('2024-11-03T06:30:00.000Z'))).toBe(true); // second 01:30 (EST)
    });
  });

  it('describes schedules for the Web UI', () => {
    expect(describeSchedule(undefined)).toBe('all day');
    expect(describeSchedule(schedule('Asia/Shanghai', ['02:00', '04:00']))).toBe('daily 02:00–04:00 Asia/Shanghai');
  });
});

describe('scheduleProblems', () => {
  const problems = (s: Schedule) => scheduleProblems(s, '/schedule');
  const paths = (s: Schedule) => problems(s).map((p) => p.path);

  it('accepts valid schedules, touching windows and a 30-minute window', () => {
    expect(problems(schedule('Asia/Shanghai', ['02:00', '04:00'], ['04:00', '06:00']))).toEqual([]);
    expect(problems(schedule('UTC', ['02:00', '02:30']))).toEqual([]);
    expect(problems(schedule('Europe/Berlin', ['23:00', '01:00'], ['01:00', '02:00']))).toEqual([]);
    expect(problems(schedule('America/New_York', ['00:00', '24:00']))).toEqual([]);
    expect(problems(schedule('Etc/GMT-8', ['22:00', '24:00']))).toEqual([]);
  });

  it.each(['', 'Mars/Base', '+08:00', '-05:00', '0800'])('rejects the timezone %j', (tz) => {
    expect(paths(schedule(tz, ['02:00', '04:00']))).toEqual(['/schedule/timezone']);
  });

  it('rejects an empty or too long list of windows', () => {
    expect(paths(schedule('UTC'))).toEqual(['/schedule/windows']);
    const many = Array.from({ length: 25 }, (_, i): [string, string] => [`${String(i % 24).padStart(2, '0')}:00`, '']);
    expect(paths(schedule('UTC', ...many))).toEqual(['/schedule/windows']);
  });

  it('rejects malformed times', () => {
    expect(paths(schedule('UTC', ['24:00', '02:00']))).toEqual(['/schedule/windows/0/start']);
    expect(paths(schedule('UTC', ['2:00', '04:00']))).toEqual(['/schedule/windows/0/start']);
    expect(paths(schedule('UTC', ['02:00', '04:60']))).toEqual(['/schedule/windows/0/end']);
    expect(paths(schedule('UTC', ['02:00', '24:01']))).toEqual(['/schedule/windows/0/end']);
    expect(paths(schedule('UTC', ['01:00', '02:00'], ['xx', 'yy']))).toEqual([
      '/schedule/windows/1/start',
      '/schedule/windows/1/end',
    ]);
  });

  it('rejects a window whose start equals its end', () => {
    expect(problems(schedule('UTC', ['03:00', '03:00']))).toEqual([
      { path: '/schedule/windows/0', message: expect.stringContaining('empty') },
    ]);
  });

  it('rejects windows shorter than 30 minutes, over midnight included', () => {
    expect(problems(schedule('UTC', ['01:00', '02:00'], ['02:00', '02:20']))).toEqual([
      {
        path: '/schedule/windows/1',
        message: 'window 02:00–02:20 is 20 minutes; each window must be at least 30 minutes',
      },
    ]);
    expect(paths(schedule('UTC', ['23:50', '00:10']))).toEqual(['/schedule/windows/0']);
    expect(paths(schedule('UTC', ['23:00', '01:00']))).toEqual([]);
  });

  it('rejects overlapping windows, over midnight included', () => {
    expect(problems(schedule('UTC', ['02:00', '04:00'], ['03:00', '05:00']))).toEqual([
      { path: '/schedule/windows/1', message: expect.stringContaining('overlaps window 02:00–04:00') },
    ]);
    expect(paths(schedule('UTC', ['23:00', '01:00'], ['00:30', '02:00']))).toEqual(['/schedule/windows/1']);
    expect(paths(schedule('UTC', ['00:30', '02:00'], ['23:00', '01:00']))).toEqual(['/schedule/windows/1']);
    expect(paths(schedule('UTC', ['00:00', '24:00'], ['05:00', '06:00']))).toEqual(['/schedule/windows/1']);
    expect(paths(schedule('UTC', ['05:00', '06:00'], ['04:00', '07:00']))).toEqual(['/schedule/windows/1']);
  });
});

describe('schedule invariants over many instants', () => {
  // Deterministic pseudo-random instants (so a failure reproduces), spread over 2023–2025.
  let seed = 20240331;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const schedules = [
    schedule('Asia/Shanghai', ['02:00', '04:00']),
    schedule('Europe/Berlin', ['23:00', '01:00'], ['02:30', '03:00'], ['12:00', '13:30']),
    schedule('America/New_York', ['01:00', '02:00'], ['02:00', '03:00'], ['18:45', '23:15']),
    schedule('Asia/Kolkata', ['00:00', '00:30'], ['23:30', '24:00']),
    schedule('Pacific/Chatham', ['02:45', '03:45']),
  ];
  const start = at('2023-01-01T00:00:00.000Z');
  const span = 3 * 365 * 24 * 3600_000;
  /** Local time of day in minutes, read independently of the module. */
  const localMinutes = (tz: string, ms: number): number => {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      hour: 'numeric',
      minute: 'numeric',
    })
      .formatToParts(ms)
      .filter((p) => p.type !== 'literal')
      .map((p) => Number(p.value));
    return parts[0] * 60 + parts[1];
  };
  const offsetMinutes = (tz: string, ms: number): number =>
    (((localMinutes(tz, ms) - Math.floor(ms / 60000)) % 1440) + 1440) % 1440;

  it.each(schedules.map((s) => [describeSchedule(s), s] as const))('holds for %s', (_name, s) => {
    for (let i = 0; i < 400; i++) {
      const atMs = start + Math.floor(random() * span);
      const state = windowState(s, atMs);
      expect(isWindowOpen(s, atMs)).toBe(state.open);
      const next = nextOpeningMs(s, atMs);
      expect(next).toBeGreaterThanOrEqual(atMs);
      expect(isWindowOpen(s, next)).toBe(true);
      expect(state.opensAtMs).toBe(next);
      const closes = state.closesAtMs as number;
      expect(closes).toBeGreaterThan(state.opensAtMs);
      expect(isWindowOpen(s, closes - 1)).toBe(true);
      expect(isWindowOpen(s, closes)).toBe(false);
      // A closed window opens exactly at `next`, not a moment earlier.
      expect(!state.open && isWindowOpen(s, next - 1)).toBe(false);
      // Away from offset changes, openness is simply "local time of day inside a window".
      const steadyOffset =
        offsetMinutes(s.timezone, atMs - 86_400_000) === offsetMinutes(s.timezone, atMs + 86_400_000);
      const m = localMinutes(s.timezone, atMs);
      const inside = s.windows.some(({ start: a, end: b }) => {
        const [sa, sb] = [a, b].map((t) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3)));
        return sa < sb ? m >= sa && m < sb : m >= sa || m < sb;
      });
      expect(state.open).toBe(steadyOffset ? inside : state.open);
    }
  });
});
