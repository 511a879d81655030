import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, ERRORS, TERMINAL_CLOSES, errorBody, type ErrorCode } from '../src/index.js';

/** The standard close codes Kith uses (RFC 6455): going away, message too big, internal error, try again later. */
const STANDARD_CLOSES = [1001, 1009, 1011, 1013];

describe('error catalogue', () => {
  const codes = Object.keys(ERRORS) as ErrorCode[];

  it('gives every code an HTTP error status, a close code and a message', () => {
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) {
      const entry = ERRORS[code];
      expect(code, code).toMatch(/^[A-Z][A-Z_]*[A-Z]$/);
      expect(entry.status >= 400 && entry.status <= 599, `${code} status ${entry.status}`).toBe(true);
      const kith = entry.closeCode >= 4000 && entry.closeCode <= 4999;
      expect(kith || STANDARD_CLOSES.includes(entry.closeCode), `${code} close ${entry.closeCode}`).toBe(true);
      expect(Object.values(CLOSE_CODES), code).toContain(entry.closeCode);
      expect(entry.message.length, code).toBeGreaterThan(0);
    }
  });

  it('Kith\'s own close codes are 4000 + an HTTP status', () => {
    for (const close of Object.values(CLOSE_CODES)) {
      if (STANDARD_CLOSES.includes(close)) continue;
      expect(close >= 4400 && close <= 4599, String(close)).toBe(true);
    }
  });

  it('terminal closes name a code a client can show when the close carries no reason', () => {
    for (const [close, code] of Object.entries(TERMINAL_CLOSES)) {
      expect(Object.values(CLOSE_CODES)).toContain(Number(close));
      expect(code).toMatch(/^[A-Z_]+$/);
    }
    // 4401 (refresh the token), 4403 (access gone) and 4429 (back off) are not terminal errors.
    for (const close of [CLOSE_CODES.UNAUTHORIZED, CLOSE_CODES.FORBIDDEN, CLOSE_CODES.TOO_MANY_REQUESTS]) {
      expect(TERMINAL_CLOSES[close]).toBeUndefined();
    }
  });

  it('builds the REST error body from the catalogue', () => {
    expect(errorBody('NOT_FOUND')).toEqual({ error: { code: 'NOT_FOUND', message: 'Nothing is here.' } });
    expect(errorBody('NOT_FOUND', 'No such thing.')).toEqual({ error: { code: 'NOT_FOUND', message: 'No such thing.' } });
  });
});
