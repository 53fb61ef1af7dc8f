/**
 * `npm run demo` is the first thing a new user runs: it must exit 0, show every step, and never
 * print a whole key. Its two devices sign with the two schemes: the laptop (a client on 'auto')
 * with caa-v2, the phone (on 'caa') with the legacy header, each request's scheme shown.
 */

import { afterAll, describe, expect, it } from 'vitest';
import { CapturedProcess } from './example-process.js';

describe('npm run demo', () => {
  let demo: CapturedProcess | undefined;

  afterAll(async () => {
    await demo?.stop();
  });

  it('walks through login → profile → refresh → old key refused → new key → a second device → log out other devices → logout and exits 0, the laptop on caa-v2 and the phone on caa', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.REDIS_URL;
    demo = new CapturedProcess('npm', ['run', '--silent', 'demo'], env);
    const code = await demo.exit(90_000);
    const output = demo.output;
    expect(code, output).toBe(0);

    const steps = [
      /1\. log in[^\n]*"laptop"[^\n]*\n\s+POST \/api\/my\/login → 200\n(?:\s+[^\n]*\n){2}\s+laptop signs with caa-v2 [^\n]*'auto'[^\n]*Accept-Signature/,
      /2\. read the profile\n\s+GET \/api\/my → 200 {2}\(caa-v2\)\n/,
      /3\. refresh the token\n\s+POST \/api\/my\/refresh-token → 200 {2}\(caa-v2\)\n/,
      /4\. the old key is refused[^\n]*\n\s+GET \/api\/my → 404 {2}\(caa-v2\)\n\s+refused as the spec says: \{"message":"apiKey not found"\}/,
      /5\. read the profile with the new key\n\s+GET \/api\/my → 200 {2}\(caa-v2\)\n/,
      // The phone keeps the legacy header on the same server.
      /6\. log in as the same user on a second device \(device "phone"\)\n\s+POST \/api\/my\/login → 200\n\s+GET \/api\/my → 200 {2}\(caa\)\n\s+phone: [^\n]*\n\s+phone signs with caa \(the legacy Authorization: Caa header\)[^\n]*'caa'/,
      // Two devices of one user, the caller's marked.
      /7\. list the devices, from the laptop\n\s+GET \/api\/my\/sessions → 200 {2}\(caa-v2\)\n\s+laptop \(node, 127\.0\.0\.1\)[^\n]*← this device\n\s+phone \(node, 127\.0\.0\.1\)[^\n←]*\n/,
      /8\. log out other devices, from the laptop\n\s+DELETE \/api\/my\/sessions → 200 {2}\(caa-v2\)\n\s+1 other device signed out/,
      // The second device is logged out: its next request is refused, its client reports LOGGED_OUT and forgets the pair.
      /9\. the phone is logged out\n\s+GET \/api\/my → 404 {2}\(caa\)\n\s+phone: its next request reports LOGGED_OUT \(404 apiKey not found\); it holds no credentials/,
      // The first still works, and is the only session left.
      /10\. the laptop still works[^\n]*\n\s+GET \/api\/my\/sessions → 200 {2}\(caa-v2\)\n\s+laptop [^\n]*← this device\n\s+✓ as expected/,
      /11\. log out\n\s+DELETE \/api\/my\/logout → 200 {2}\(caa-v2\)/,
      /12\. the logged-out key is refused[^\n]*\n\s+GET \/api\/my → 404 {2}\(caa-v2\)/,
    ];
    for (const step of steps) expect(output).toMatch(step);
    expect(output.match(/✓ as expected/g)).toHaveLength(steps.length);
    expect(output).not.toContain('✗');
    expect(output).toContain('All 12 steps behaved as expected.');
    // Every signed request of the laptop was caa-v2, every one of the phone caa: 9 and 2.
    expect(output.match(/ {2}\(caa-v2\)\n/g)).toHaveLength(9);
    expect(output.match(/ {2}\(caa\)\n/g)).toHaveLength(2);

    // Keys are base64 of 32 bytes (44 characters): none may appear whole, only masked.
    expect(output).not.toMatch(/[A-Za-z0-9+/]{43}=/);
    expect(output).toMatch(/secretKey [A-Za-z0-9+/]{6}…/);
    expect(output).not.toContain('caa-demo-password');
  }, 120_000);
});
