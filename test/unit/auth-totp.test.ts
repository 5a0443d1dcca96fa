import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, hotp, otpauthUri, totp, totpStep, verifyTotp } from '../../agent/src/auth/totp.ts';

// RFC 6238 Appendix B and RFC 4226 Appendix D: the shared secret is the ASCII string "12345678901234567890".
const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');

describe('RFC 4648 base32', () => {
  // RFC 4648 §10 test vectors (our encoder omits the "=" padding, as otpauth URIs do).
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'MY======'],
    ['fo', 'MZXQ===='],
    ['foo', 'MZXW6==='],
    ['foob', 'MZXW6YQ='],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI======'],
  ];

  it.each(vectors)('encodes %j as %s (§10)', (plain, encoded) => {
    expect(base32Encode(Buffer.from(plain, 'ascii'))).toBe(encoded.replace(/=+$/, ''));
  });

  it.each(vectors)('decodes %s back to %j, with or without padding, in any case', (plain, encoded) => {
    expect(base32Decode(encoded).toString('ascii')).toBe(plain);
    expect(base32Decode(encoded.replace(/=+$/, '').toLowerCase()).toString('ascii')).toBe(plain);
  });

  it('ignores the spaces people type secrets with, and refuses characters outside the alphabet (§3.3)', () => {
    expect(base32Decode('MZXW 6YTB OI').toString('ascii')).toBe('foobar');
    expect(() => base32Decode('MZXW1')).toThrow(/not base32/);
  });

  it('round-trips random secrets of every length', () => {
    for (let length = 0; length < 40; length++) {
      const bytes = Buffer.from(Array.from({ length }, (_, index) => (index * 37 + length) & 0xff));
      expect(base32Decode(base32Encode(bytes)).equals(bytes)).toBe(true);
    }
  });
});

describe('RFC 4226 HOTP', () => {
  // Appendix D: HOTP values for counts 0–9.
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];

  it.each(expected.map((code, count) => [count, code] as const))('count %i gives %s (Appendix D)', (count, code) => {
    expect(hotp(RFC_SECRET, count)).toBe(code);
  });
});

describe('RFC 6238 TOTP, Appendix B, SHA-1', () => {
  // Appendix B: unix time (s), T as hex, TOTP with 8 digits, mode SHA1.
  const vectors: [number, string, string][] = [
    [59, '0000000000000001', '94287082'],
    [1111111109, '00000000023523EC', '07081804'],
    [1111111111, '00000000023523ED', '14050471'],
    [1234567890, '000000000273EF07', '89005924'],
    [2000000000, '0000000003F940AA', '69279037'],
    [20000000000, '0000000027BC86AA', '65353130'],
  ];

  it.each(vectors)('at %i s the step is %s and the 8-digit code %s', (seconds, stepHex, code) => {
    expect(totpStep(seconds * 1000)).toBe(Number.parseInt(stepHex, 16));
    expect(totp(RFC_SECRET, seconds * 1000, 8)).toBe(code);
  });

  it.each(vectors)('at %i s the 6-digit code is the last six digits of the 8-digit one (truncation mod 10^6)', (seconds, _step, code) => {
    // RFC 4226 §5.3: both are the same 31-bit value mod 10^Digit, so the 6-digit code is the 8-digit one's tail.
    expect(totp(RFC_SECRET, seconds * 1000)).toBe(code.slice(2));
  });
});

describe('verifyTotp', () => {
  const t = 1_234_567_890_000;
  const step = totpStep(t);

  it('accepts the current code and returns its step', () => {
    expect(verifyTotp(RFC_SECRET, totp(RFC_SECRET, t), t, null)).toEqual({ ok: true, step });
  });

  it('accepts the codes of one step before and after (RFC 6238 §5.2), not two', () => {
    expect(verifyTotp(RFC_SECRET, totp(RFC_SECRET, t - 30_000), t, null)).toEqual({ ok: true, step: step - 1 });
    expect(verifyTotp(RFC_SECRET, totp(RFC_SECRET, t + 30_000), t, null)).toEqual({ ok: true, step: step + 1 });
    expect(verifyTotp(RFC_SECRET, totp(RFC_SECRET, t - 60_000), t, null)).toEqual({ ok: false, reason: 'wrong' });
    expect(verifyTotp(RFC_SECRET, totp(RFC_SECRET, t + 60_000), t, null)).toEqual({ ok: false, reason: 'wrong' });
  });

  it('refuses a replayed code: the step last used, or an earlier one, is not accepted again (RFC 6238 §5.2)', () => {
    const code = totp(RFC_SECRET, t);
    const first = verifyTotp(RFC_SECRET, code, t, null);
    expect(first.ok).toBe(true);
    expect(verifyTotp(RFC_SECRET, code, t + 5_000, step)).toEqual({ ok: false, reason: 'replayed' });
    expect(verifyTotp(RFC_SECRET, totp(RFC_SECRET, t - 30_000), t, step)).toEqual({ ok: false, reason: 'replayed' });
    expect(verifyTotp(RFC_SECRET, totp(RFC_SECRET, t + 30_000), t + 30_000, step)).toEqual({ ok: true, step: step + 1 });
  });

  it('refuses what is not six digits without computing anything', () => {
    expect(verifyTotp(RFC_SECRET, '12345', t, null)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyTotp(RFC_SECRET, '1234567', t, null)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyTotp(RFC_SECRET, 'abcdef', t, null)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyTotp(RFC_SECRET, '', t, null)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('accepts a code typed with a space in the middle', () => {
    const code = totp(RFC_SECRET, t);
    expect(verifyTotp(RFC_SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, t, null).ok).toBe(true);
  });
});

describe('otpauth URI', () => {
  it('names the issuer and the account, and carries the base32 secret and the parameters', () => {
    const uri = otpauthUri(RFC_SECRET, 'alice');
    expect(uri).toBe('otpauth://totp/Wardwatch:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Wardwatch&algorithm=SHA1&digits=6&period=30');
    const parsed = new URL(uri);
    expect(base32Decode(parsed.searchParams.get('secret') ?? '').equals(RFC_SECRET)).toBe(true);
  });

  it('escapes an account name that has URI characters in it', () => {
    expect(otpauthUri(RFC_SECRET, 'a b/c')).toMatch(/^otpauth:\/\/totp\/Wardwatch:a%20b%2Fc\?/);
  });
});
