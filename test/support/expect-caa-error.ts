/** The one assertion of every error-path test: the exact status, wire message and code of a rejection. */

import { expect } from 'vitest';
import { CaaError, type CaaErrorCode, type CaaMessage } from '../../src/index.js';

/**
 * Awaits `promise`, fails unless it rejects with a {@link CaaError} of exactly this `status`,
 * `message` and `code` whose JSON body is exactly `{ message }`, and returns that error.
 */
export async function expectCaaError(
  promise: Promise<unknown>,
  status: number,
  message: CaaMessage,
  code: CaaErrorCode,
): Promise<CaaError> {
  let outcome: { settled: 'fulfilled'; value: unknown } | { settled: 'rejected'; reason: unknown };
  try {
    outcome = { settled: 'fulfilled', value: await promise };
  } catch (reason) {
    outcome = { settled: 'rejected', reason };
  }
  if (outcome.settled === 'fulfilled') {
    throw new Error(`expected a CaaError ${status} ${message} ${code}, but the call resolved`);
  }
  const err = outcome.reason;
  expect(err).toBeInstanceOf(CaaError);
  if (!(err instanceof CaaError)) throw new Error('unreachable: not a CaaError');
  expect({ name: err.name, status: err.status, message: err.message, code: err.code }).toStrictEqual({
    name: 'CaaError',
    status,
    message,
    code,
  });
  expect(JSON.stringify(err)).toBe(JSON.stringify({ message }));
  return err;
}
