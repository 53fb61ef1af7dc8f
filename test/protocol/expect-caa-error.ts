/** Assertions shared by the protocol tests: the exact status, wire message and code of a rejection. */

import { expect } from 'vitest';
import { CaaError, type CaaErrorCode, type CaaMessage } from '../../src/index.js';

export interface ExpectedCaaError {
  readonly status: number;
  readonly message: CaaMessage;
  readonly code: CaaErrorCode;
}

export const INVALID_AUTHORIZATION: ExpectedCaaError = {
  status: 400,
  message: 'invalid authorization',
  code: 'INVALID_AUTHORIZATION',
};

export const SIGNATURE_MISMATCH: ExpectedCaaError = {
  status: 400,
  message: 'invalid signature',
  code: 'SIGNATURE_MISMATCH',
};

export const TIMESTAMP_OUT_OF_WINDOW: ExpectedCaaError = {
  status: 400,
  message: 'invalid signature',
  code: 'TIMESTAMP_OUT_OF_WINDOW',
};

/** Runs `fn` and returns what it threw (fails the test when it returns). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** Asserts that `err` is a {@link CaaError} with exactly this status, message and code, and body `{ message }`. */
export function expectCaaError(err: unknown, expected: ExpectedCaaError): void {
  expect(err).toBeInstanceOf(CaaError);
  if (!(err instanceof CaaError)) return;
  expect({ name: err.name, status: err.status, message: err.message, code: err.code }).toStrictEqual({
    name: 'CaaError',
    ...expected,
  });
  expect(JSON.stringify(err)).toBe(JSON.stringify({ message: expected.message }));
}

/** Asserts that `fn` throws a {@link CaaError} with exactly this status, message and code. */
export function expectThrowsCaaError(fn: () => unknown, expected: ExpectedCaaError): void {
  expectCaaError(thrownBy(fn), expected);
}
