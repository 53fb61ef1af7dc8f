/**
 * The client's view of the server's clock. The server refuses a timestamp more than 5 minutes from
 * its own time (spec §3), so a client whose clock is off learns the offset from the `Date` header of
 * the server's responses, the way the AWS SDKs correct clock skew, and signs with strictly
 * increasing timestamps so that it never sends the same header twice (the server's replay check).
 *
 * @module client/clock
 */

import { DEFAULT_SKEW_MS, TIMESTAMP_DIGITS } from '../protocol/limits.js';

const MIN_TIMESTAMP = 10 ** (TIMESTAMP_DIGITS - 1);
const MAX_TIMESTAMP = 10 ** TIMESTAMP_DIGITS - 1;

/** True for an integer of exactly 13 digits: what a Caa header's timestamp must be (spec §2). */
function isTimestamp(value: number): boolean {
  return Number.isInteger(value) && value >= MIN_TIMESTAMP && value <= MAX_TIMESTAMP;
}

/**
 * An HTTP `Date` header counts whole seconds: the server's time lies in `[date, date + 1000)`.
 *
 * @example
 * ```ts
 * import { DATE_HEADER_RESOLUTION_MS } from 'caa-auth/client';
 *
 * DATE_HEADER_RESOLUTION_MS; // 1000
 * ```
 *
 * @category Client
 */
export const DATE_HEADER_RESOLUTION_MS = 1000;

/**
 * Least difference between the learned offset and a new sample, in ms, before the offset changes.
 * A `Date` header is floored to the second and the response spends time on the wire, so smaller
 * differences are noise, not skew (and harmless against a 5-minute window).
 *
 * @example
 * ```ts
 * import { CLOCK_SKEW_TOLERANCE_MS } from 'caa-auth/client';
 *
 * CLOCK_SKEW_TOLERANCE_MS; // 2000
 * ```
 *
 * @category Client
 */
export const CLOCK_SKEW_TOLERANCE_MS = 2000;

/**
 * Largest offset to the server's clock a `Date` header can teach, in ms: 24 hours. A sample further
 * from the local clock than this is taken as a broken or hostile clock (a proxy's, a `Date` of 1970),
 * not as skew: it is ignored and the offset learned before is kept, so one bad response can neither
 * make the client sign with timestamps that only become valid days later nor push them out of 13
 * digits. A day covers a device clock set to local time instead of UTC (at most 14 h off); a device
 * further off fails closed, with `400 invalid signature`, until its clock is fixed.
 *
 * @example
 * ```ts
 * import { MAX_CLOCK_OFFSET_MS } from 'caa-auth/client';
 *
 * MAX_CLOCK_OFFSET_MS; // 86_400_000
 * ```
 *
 * @category Client
 */
export const MAX_CLOCK_OFFSET_MS = 24 * 60 * 60 * 1000;

/**
 * After the clock is set back, timestamps stay strictly increasing (each one the last plus 1 ms)
 * unless that would keep them more than this far ahead of the corrected clock; then they restart from
 * it. Half the server's window: a timestamp that far ahead is still accepted.
 */
const MAX_TIMESTAMP_LEAD_MS = DEFAULT_SKEW_MS / 2;

/**
 * One reading of the server's clock: a response's `Date`, and when the request left and the response came back.
 *
 * @example
 * ```ts
 * import { parseHttpDate, type ClockSample } from 'caa-auth/client';
 *
 * const sample: ClockSample = { serverDate: parseHttpDate(res.headers.get('date')) ?? NaN, sentAt, receivedAt: Date.now() };
 * clock.learn(sample);
 * ```
 *
 * @category Client
 */
export interface ClockSample {
  /** The response's `Date` header as epoch ms (whole seconds). */
  readonly serverDate: number;
  /** Local time, epoch ms, just before the request was sent. */
  readonly sentAt: number;
  /** Local time, epoch ms, when the response headers arrived. */
  readonly receivedAt: number;
}

/**
 * Parses an HTTP `Date` header (IMF-fixdate, e.g. `Tue, 14 Nov 2023 22:13:20 GMT`) to epoch ms, or
 * `undefined` when it is missing or unreadable.
 *
 * @param value - A `Date` header value; `null` or `undefined` when absent.
 *
 * @example
 * ```ts
 * import { parseHttpDate } from 'caa-auth/client';
 *
 * parseHttpDate('Tue, 14 Nov 2023 22:13:20 GMT'); // 1700000000000
 * parseHttpDate(response.headers.get('date'));     // undefined when the header is absent
 * ```
 *
 * @category Client
 */
export function parseHttpDate(value: string | null | undefined): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const time = Date.parse(value);
  return Number.isFinite(time) ? time : undefined;
}

/**
 * A corrected clock: the local clock plus an offset learned from the server, and a source of strictly
 * increasing 13-digit timestamps. `createCaaClient` keeps one per client; use your own when you sign
 * with `signCaaHeaderAsync` directly.
 *
 * How a sample is read: the server made the response at some server time in
 * `[serverDate, serverDate + 1000)` and some local time in `[sentAt, receivedAt]`, so the offset is
 * estimated from the middles of both, `serverDate + 500 − (sentAt + receivedAt) / 2`, give or take
 * `500 + (receivedAt − sentAt) / 2`. The offset changes only when the estimate is further than that,
 * and at least {@link CLOCK_SKEW_TOLERANCE_MS}, from the current one; a new offset that small
 * is taken as 0 (the local clock is right within what a `Date` header can tell). An estimate beyond
 * {@link MAX_CLOCK_OFFSET_MS}, or one that would make the corrected time other than 13 digits, is
 * ignored (the previous offset stays).
 *
 * @example
 * ```ts
 * import { CaaClock, parseHttpDate, signCaaHeaderAsync } from 'caa-auth/client';
 *
 * const clock = new CaaClock();
 * const sentAt = Date.now();
 * const res = await fetch(url, { headers: { authorization: await signCaaHeaderAsync({ action, apiKey, secretKey, timestamp: clock.nextTimestamp() }) } });
 * const serverDate = parseHttpDate(res.headers.get('date'));
 * if (serverDate !== undefined) clock.learn({ serverDate, sentAt, receivedAt: Date.now() });
 * ```
 *
 * @category Client
 */
export class CaaClock {
  readonly #localNow: () => number;
  #offsetMs = 0;
  #lastTimestamp = 0;

  /** @param localNow The local clock, epoch ms; default `Date.now`. */
  constructor(localNow: () => number = Date.now) {
    this.#localNow = localNow;
  }

  /** Server time minus local time, ms, as learned so far (0 until a sample shows real skew). */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** The local clock, unadjusted, epoch ms. */
  localNow(): number {
    return this.#localNow();
  }

  /** The server's time as this clock believes it, epoch ms. */
  now(): number {
    return this.#localNow() + this.#offsetMs;
  }

  /**
   * The timestamp for the next signature: the corrected time in whole ms (the local time when the
   * corrected one would not be 13 digits), or the previous timestamp plus 1 if that is not later, so
   * that no two headers of this clock carry the same timestamp.
   */
  nextTimestamp(): number {
    let now = Math.round(this.now());
    if (!isTimestamp(now)) now = Math.round(this.#localNow());
    this.#lastTimestamp = now > this.#lastTimestamp ? now : this.#lastTimestamp + 1;
    return this.#lastTimestamp;
  }

  /**
   * Takes one reading of the server's clock into account. Returns `true` when the offset changed;
   * `false` also for an implausible sample (beyond {@link MAX_CLOCK_OFFSET_MS}), which is ignored.
   *
   * @param sample - The server's `Date`, and when the request was sent and its answer received by the local clock.
   */
  learn(sample: ClockSample): boolean {
    const { serverDate, sentAt, receivedAt } = sample;
    if (!Number.isFinite(serverDate) || !Number.isFinite(sentAt) || !Number.isFinite(receivedAt)) return false;
    const half = DATE_HEADER_RESOLUTION_MS / 2;
    const estimate = serverDate + half - (sentAt + receivedAt) / 2;
    // Not skew but a broken clock: keep what was learned before (see MAX_CLOCK_OFFSET_MS).
    if (!(Math.abs(estimate) <= MAX_CLOCK_OFFSET_MS) || !isTimestamp(Math.round(this.#localNow() + estimate))) return false;
    const uncertainty = half + Math.abs(receivedAt - sentAt) / 2;
    const tolerance = Math.max(CLOCK_SKEW_TOLERANCE_MS, uncertainty);
    if (Math.abs(estimate - this.#offsetMs) <= tolerance) return false;
    this.#offsetMs = Math.abs(estimate) <= tolerance ? 0 : Math.round(estimate);
    const now = Math.round(this.now());
    if (this.#lastTimestamp - now > MAX_TIMESTAMP_LEAD_MS) this.#lastTimestamp = now - 1;
    return true;
  }
}
