import http from 'node:http';
import { createHmac } from 'node:crypto';
import { expect } from 'vitest';
import { ERRORS, type ErrorCode } from '../../src/errors/catalogue.js';
import type { ApiResponse } from './api.js';

/**
 * Asserts the error contract: the status, a JSON body that is exactly `{"error": {"code", "message"}}`,
 * a code from the catalogue whose status is the one answered, and a non-empty message
 * (optionally matching `message`). Returns the message.
 */
export function expectError(res: ApiResponse, status: number, code: ErrorCode, message?: string | RegExp): string {
  const seen = `${res.status} ${JSON.stringify(res.body)}`;
  expect(res.status, seen).toBe(status);
  expect(res.headers.get('content-type'), seen).toMatch(/^application\/json/);
  expect(res.body, seen).toBeTypeOf('object');
  expect(Object.keys(res.body), seen).toEqual(['error']);
  expect(Object.keys(res.body.error).sort(), seen).toEqual(['code', 'message']);
  expect(res.body.error.code, seen).toBe(code);
  expect(Object.keys(ERRORS), seen).toContain(code);
  expect(ERRORS[code].status, `catalogue status of ${code}`).toBe(status);
  expect(res.body.error.message, seen).toBeTypeOf('string');
  expect(res.body.error.message.length, seen).toBeGreaterThan(0);
  if (message !== undefined) expect(res.body.error.message, seen).toMatch(message);
  return res.body.error.message;
}

/** Asserts a validation failure (400 VALIDATION_FAILED) whose message names `field`. */
export function expectValidationError(res: ApiResponse, field: string): string {
  return expectError(res, 400, 'VALIDATION_FAILED', new RegExp(`\\b${field}\\b`));
}

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Local address to send from, e.g. `127.0.0.2`: the server sees it as the client IP. */
  localAddress?: string;
}

/**
 * One HTTP request over node:http, which (unlike fetch) adds no content-type of its own and can
 * send from another loopback address. The body is parsed as JSON when it is JSON.
 */
export function rawRequest(baseUrl: string, path: string, options: RawRequestOptions = {}): Promise<ApiResponse> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: options.method ?? 'POST',
        headers: {
          ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}),
          ...options.headers,
        },
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          }
          let body: any = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body, headers });
        });
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** A JSON POST from a given local address. */
export function postJsonFrom(localAddress: string, baseUrl: string, path: string, body: unknown): Promise<ApiResponse> {
  return rawRequest(baseUrl, path, {
    localAddress,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Signs a JWT with HS256 (or writes an unsigned `alg: none` one), for forged and expired tokens. */
export function signJwt(payload: Record<string, unknown>, secret: string, alg: 'HS256' | 'none' = 'HS256'): string {
  const head = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}`;
  if (alg === 'none') return `${head}.`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** The claims of a JWT, unverified. */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new Error(`not a JWT: ${token}`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
