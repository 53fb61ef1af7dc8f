/** The one assertion of every error-path test: the exact status, wire message and code of a rejection. */

import { expect } from 'vitest';
import { CaaError, type CaaErrorCode, type CaaMessage } from '../../src/index.js';

/** A rejection as the tests name it. */
export interface ExpectedCaaError {
  readonly status: number;
  readonly message: CaaMessage;
  readonly code: CaaErrorCode;
}

export const INVALID_AUTHORIZATION: ExpectedCaaError = { status: 400, message: 'invalid authorization', code: 'INVALID_AUTHORIZATION' };
export const SIGNATURE_MISMATCH: ExpectedCaaError = { status: 400, message: 'invalid signature', code: 'SIGNATURE_MISMATCH' };
export const TIMESTAMP_OUT_OF_WINDOW: ExpectedCaaError = { status: 400, message: 'invalid signature', code: 'TIMESTAMP_OUT_OF_WINDOW' };

/**
 * Fails unless `err` is a {@link CaaError} of exactly this status, message and code whose JSON body
 * is exactly `{ message }`; returns it.
 */
export function assertCaaError(err: unknown, expected: ExpectedCaaError): CaaError {
  expect(err).toBeInstanceOf(CaaError);
  if (!(err instanceof CaaError)) throw new Error('unreachable: not a CaaError');
  expect({ name: err.name, status: err.status, message: err.message, code: err.code }).toStrictEqual({
    name: 'CaaError',
    ...expected,
  });
  expect(JSON.stringify(err)).toBe(JSON.stringify({ message: expected.message }));
  return err;
}

/** Awaits `promise` and asserts it rejects with exactly this CaaError; returns the error. */
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
  return assertCaaError(outcome.reason, { status, message, code });
}

/** Runs `fn` and returns what it threw (fails the test when it returns). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** Asserts that `fn` throws exactly this CaaError. */
export function expectThrowsCaaError(fn: () => unknown, expected: ExpectedCaaError): void {
  assertCaaError(thrownBy(fn), expected);
}
