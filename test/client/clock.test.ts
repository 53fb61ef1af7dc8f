/**
 * The corrected clock: reading whole-second `Date` headers without bias, ignoring noise, adopting
 * real skew but not an implausible one, and strictly increasing 13-digit timestamps.
 */

import { describe, expect, it } from 'vitest';
import { CLOCK_SKEW_TOLERANCE_MS, CaaClock, MAX_CLOCK_OFFSET_MS, parseHttpDate, signCaaHeaderAsync } from '../../src/client/index.js';

/** What a server whose clock reads `serverNow` puts in its Date header. */
const dateHeaderOf = (serverNow: number): number => Math.floor(serverNow / 1000) * 1000;

/** A local clock the test moves by hand. */
function manualClock(start: number): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (next) => (t = next) };
}

const T0 = 1_700_000_000_000;

describe('parseHttpDate', () => {
  it('reads an IMF-fixdate and refuses a missing or unreadable header', () => {
    expect(parseHttpDate('Tue, 14 Nov 2023 22:13:20 GMT')).toBe(1_700_000_000_000);
    expect(parseHttpDate(new Date(T0 + 999).toUTCString())).toBe(T0);
    expect(parseHttpDate(null)).toBeUndefined();
    expect(parseHttpDate('')).toBeUndefined();
    expect(parseHttpDate('yesterday')).toBeUndefined();
  });
});

describe('CaaClock.learn', () => {
  it('keeps offset 0 against a right server clock whatever the sub-second phase (the header is floored)', () => {
    for (const phase of [0, 1, 250, 500, 999]) {
      const clock = new CaaClock(() => T0 + phase);
      const local = T0 + phase;
      // Naively, Date − local would read up to −999 ms here.
      expect(clock.learn({ serverDate: dateHeaderOf(local), sentAt: local - 40, receivedAt: local })).toBe(false);
      expect(clock.offsetMs).toBe(0);
    }
  });

  it('ignores skew within the tolerance (harmless against a 5-minute window)', () => {
    const clock = new CaaClock(() => T0);
    expect(clock.learn({ serverDate: dateHeaderOf(T0 + 1500), sentAt: T0, receivedAt: T0 })).toBe(false);
    expect(clock.learn({ serverDate: dateHeaderOf(T0 - 1500), sentAt: T0, receivedAt: T0 })).toBe(false);
    expect(clock.offsetMs).toBe(0);
    expect(CLOCK_SKEW_TOLERANCE_MS).toBe(2000);
  });

  it('adopts a server 10 minutes ahead to within half a second, unbiased by the flooring', () => {
    for (const phase of [0, 333, 999]) {
      const local = T0 + phase;
      const clock = new CaaClock(() => local);
      expect(clock.learn({ serverDate: dateHeaderOf(local + 600_000), sentAt: local - 10, receivedAt: local + 10 })).toBe(true);
      expect(Math.abs(clock.offsetMs - 600_000)).toBeLessThanOrEqual(500);
      expect(Math.abs(clock.now() - (local + 600_000))).toBeLessThanOrEqual(500);
    }
  });

  it('adopts a server 5 minutes behind', () => {
    const clock = new CaaClock(() => T0);
    expect(clock.learn({ serverDate: dateHeaderOf(T0 - 300_000), sentAt: T0, receivedAt: T0 })).toBe(true);
    expect(Math.abs(clock.offsetMs + 300_000)).toBeLessThanOrEqual(500);
  });

  it('does not flap once an offset is learned: later samples are compared with the corrected clock', () => {
    const local = manualClock(T0);
    const clock = new CaaClock(local.now);
    clock.learn({ serverDate: dateHeaderOf(T0 + 600_000), sentAt: T0, receivedAt: T0 });
    const learned = clock.offsetMs;
    for (let step = 1; step <= 50; step++) {
      const t = T0 + step * 137;
      local.set(t);
      expect(clock.learn({ serverDate: dateHeaderOf(t + 600_000), sentAt: t - 20, receivedAt: t })).toBe(false);
    }
    expect(clock.offsetMs).toBe(learned);
  });

  it('returns to offset 0 when the server clock is fixed', () => {
    const clock = new CaaClock(() => T0);
    clock.learn({ serverDate: dateHeaderOf(T0 + 600_000), sentAt: T0, receivedAt: T0 });
    expect(clock.learn({ serverDate: dateHeaderOf(T0), sentAt: T0, receivedAt: T0 })).toBe(true);
    expect(clock.offsetMs).toBe(0);
  });

  it('widens the tolerance with the round trip: a slow response says less about the server clock', () => {
    const clock = new CaaClock(() => T0);
    // The Date lies 3.5 s after the middle of the round trip, but the round trip took 8 s: the
    // server may have answered at any point of it, so this is no evidence of skew.
    expect(clock.learn({ serverDate: dateHeaderOf(T0 - 1000), sentAt: T0 - 8000, receivedAt: T0 })).toBe(false);
    expect(clock.offsetMs).toBe(0);
  });

  it('ignores a sample with an unreadable date', () => {
    const clock = new CaaClock(() => T0);
    expect(clock.learn({ serverDate: Number.NaN, sentAt: T0, receivedAt: T0 })).toBe(false);
    expect(clock.offsetMs).toBe(0);
  });
});

describe('CaaClock.nextTimestamp', () => {
  it('is strictly increasing when the local clock stands still', () => {
    const clock = new CaaClock(() => T0);
    const timestamps = Array.from({ length: 100 }, () => clock.nextTimestamp());
    expect(timestamps).toEqual(Array.from({ length: 100 }, (_, i) => T0 + i));
  });

  it('is strictly increasing when the local clock goes back a little', () => {
    const local = manualClock(T0);
    const clock = new CaaClock(local.now);
    const first = clock.nextTimestamp();
    local.set(T0 - 5000);
    expect(clock.nextTimestamp()).toBe(first + 1);
  });

  it('follows the learned offset forward and stays increasing', () => {
    const clock = new CaaClock(() => T0);
    const before = clock.nextTimestamp();
    clock.learn({ serverDate: dateHeaderOf(T0 + 600_000), sentAt: T0, receivedAt: T0 });
    const after = clock.nextTimestamp();
    expect(after).toBeGreaterThan(before + 599_000);
    expect(clock.nextTimestamp()).toBe(after + 1);
  });

  it('restarts from the corrected clock after a correction back by more than half the window, instead of staying ahead of it', () => {
    const clock = new CaaClock(() => T0);
    clock.learn({ serverDate: dateHeaderOf(T0 + 600_000), sentAt: T0, receivedAt: T0 });
    clock.nextTimestamp();
    clock.learn({ serverDate: dateHeaderOf(T0), sentAt: T0, receivedAt: T0 });
    expect(clock.nextTimestamp()).toBe(T0);
  });

  it('stays strictly increasing after a small correction back', () => {
    const clock = new CaaClock(() => T0);
    clock.learn({ serverDate: dateHeaderOf(T0 + 10_000), sentAt: T0, receivedAt: T0 });
    const ahead = clock.nextTimestamp();
    clock.learn({ serverDate: dateHeaderOf(T0), sentAt: T0, receivedAt: T0 });
    expect(clock.offsetMs).toBe(0);
    expect(clock.nextTimestamp()).toBe(ahead + 1);
  });
});

describe('CaaClock bounds', () => {
  const DAY = 86_400_000;
  /** The smallest 13-digit epoch ms (2001-09-09). */
  const FIRST_13_DIGITS = 1_000_000_000_000;

  it('MAX_CLOCK_OFFSET_MS is 24 hours', () => {
    expect(MAX_CLOCK_OFFSET_MS).toBe(DAY);
  });

  it('ignores a Date two days ahead, one of 1970 and one just beyond the bound, keeping the offset learned before', () => {
    const clock = new CaaClock(() => T0);
    expect(clock.learn({ serverDate: dateHeaderOf(T0 + 600_000), sentAt: T0, receivedAt: T0 })).toBe(true);
    const learned = clock.offsetMs;
    for (const serverDate of [T0 + 2 * DAY, 0, dateHeaderOf(T0 + MAX_CLOCK_OFFSET_MS) + 1000, dateHeaderOf(T0 - MAX_CLOCK_OFFSET_MS) - 2000]) {
      expect(clock.learn({ serverDate, sentAt: T0, receivedAt: T0 }), String(serverDate)).toBe(false);
      expect(clock.offsetMs).toBe(learned);
    }
    expect(Math.abs(clock.nextTimestamp() - (T0 + 600_000))).toBeLessThanOrEqual(500);
  });

  it('adopts a large but plausible offset (23 hours: a clock set to local time instead of UTC)', () => {
    const clock = new CaaClock(() => T0);
    expect(clock.learn({ serverDate: dateHeaderOf(T0 - 23 * 3_600_000), sentAt: T0, receivedAt: T0 })).toBe(true);
    expect(Math.abs(clock.offsetMs + 23 * 3_600_000)).toBeLessThanOrEqual(500);
  });

  it('ignores an offset that would make the corrected time other than 13 digits', () => {
    const local = FIRST_13_DIGITS + 1000;
    const clock = new CaaClock(() => local);
    expect(clock.learn({ serverDate: local - 3_600_000, sentAt: local, receivedAt: local })).toBe(false);
    expect(clock.offsetMs).toBe(0);
    expect(clock.nextTimestamp()).toBe(local);
  });

  it('signs with the local time when the corrected one would not be 13 digits, instead of throwing RangeError', async () => {
    const local = manualClock(FIRST_13_DIGITS + 2 * 3_600_000);
    const clock = new CaaClock(local.now);
    expect(clock.learn({ serverDate: FIRST_13_DIGITS + 3_600_000, sentAt: local.now(), receivedAt: local.now() })).toBe(true);
    local.set(FIRST_13_DIGITS + 1000); // the local clock steps back: local + offset now has 12 digits
    expect(clock.now()).toBeLessThan(FIRST_13_DIGITS);
    const timestamp = clock.nextTimestamp();
    expect(timestamp).toBe(FIRST_13_DIGITS + 1000);
    await expect(signCaaHeaderAsync({ action: 'a', apiKey: 'YQ==', secretKey: 's', timestamp })).resolves.toMatch(/^Caa /);
  });
});
