/**
 * `npm run demo` is the first thing a new user runs: it must exit 0, show every step, and never
 * print a whole key.
 */

import { afterAll, describe, expect, it } from 'vitest';
import { CapturedProcess } from './example-process.js';

describe('npm run demo', () => {
  let demo: CapturedProcess | undefined;

  afterAll(async () => {
    await demo?.stop();
  });

  it('walks through login → profile → refresh → old key refused → new key → logout and exits 0', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.REDIS_URL;
    demo = new CapturedProcess('npm', ['run', '--silent', 'demo'], env);
    const code = await demo.exit(90_000);
    const output = demo.output;
    expect(code, output).toBe(0);

    const steps = [
      /1\. log in[^\n]*\n\s+POST \/api\/my\/login → 200/,
      /2\. read the profile[^\n]*\n\s+GET \/api\/my → 200/,
      /3\. refresh the token[^\n]*\n\s+POST \/api\/my\/refresh-token → 200/,
      /4\. the old key is refused[^\n]*\n\s+GET \/api\/my → 404\n\s+refused as the spec says: \{"message":"apiKey not found"\}/,
      /5\. read the profile with the new key[^\n]*\n\s+GET \/api\/my → 200/,
      /6\. log out[^\n]*\n\s+DELETE \/api\/my\/logout → 200/,
      /7\. the logged-out key is refused[^\n]*\n\s+GET \/api\/my → 404/,
    ];
    for (const step of steps) expect(output).toMatch(step);
    expect(output.match(/✓ as expected/g)).toHaveLength(steps.length);
    expect(output).not.toContain('✗');
    expect(output).toContain('All 7 steps behaved as expected.');

    // Keys are base64 of 32 bytes (44 characters): none may appear whole, only masked.
    expect(output).not.toMatch(/[A-Za-z0-9+/]{43}=/);
    expect(output).toMatch(/secretKey [A-Za-z0-9+/]{6}…/);
    expect(output).not.toContain('caa-demo-password');
  }, 120_000);
});
