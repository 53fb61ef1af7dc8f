/**
 * Random bytes for keys from a pooled CSPRNG buffer: one `randomFillSync` call fills
 * {@link RANDOM_POOL_BYTES} (64 keys of 32 bytes), since each call into the CSPRNG costs about the
 * same whatever its size (~5 µs here) and a refresh needs two keys.
 *
 * Each byte is handed out once: the read position only moves forward, the bytes of a key are
 * zeroed as soon as they are encoded, and the pool is refilled (from the start) only when the rest
 * is too short for the next request; the short rest is overwritten, never handed out. Everything
 * runs synchronously on one thread, so no two callers can interleave between reading and moving
 * the position. Fork-safety: a Node process is never forked without exec (`child_process.fork`
 * and `cluster` start fresh processes, `worker_threads` get their own module instance, hence their
 * own pool), so no two processes can ever share one pool's contents.
 *
 * @internal
 * @module use-cases/random
 */

import { randomFillSync } from 'node:crypto';

/** Bytes one CSPRNG call fills: 64 keys of 32 bytes. */
export const RANDOM_POOL_BYTES = 64 * 32;

// Buffer.alloc, not allocUnsafe: the pool must not live in Node's shared slab beside other buffers.
const pool = Buffer.alloc(RANDOM_POOL_BYTES);
/** The first byte not yet handed out; at the end, the pool is empty. */
let position = RANDOM_POOL_BYTES;

/**
 * `size` fresh CSPRNG bytes (at most {@link RANDOM_POOL_BYTES}), encoded; the pool's copy of them
 * is zeroed before this returns.
 */
export function randomString(size: number, encoding: 'base64' | 'base64url' | 'hex'): string {
  if (!(Number.isInteger(size) && size > 0 && size <= RANDOM_POOL_BYTES)) {
    throw new RangeError(`randomString: size must be an integer in 1..${RANDOM_POOL_BYTES}`);
  }
  if (position + size > RANDOM_POOL_BYTES) {
    randomFillSync(pool);
    position = 0;
  }
  const start = position;
  const end = start + size;
  // Moved on before anything else can run: these bytes are never handed out again.
  position = end;
  const text = pool.toString(encoding, start, end);
  pool.fill(0, start, end);
  return text;
}

/**
 * The pool itself and its read position, for the tests that check used bytes are zeroed. Never
 * write to it.
 *
 * @internal
 */
export function inspectRandomPool(): { readonly bytes: Buffer; readonly position: number } {
  return { bytes: pool, position };
}
