/** One server and one browser per test file; the browser contexts a test opens are closed after it. */
import type { BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest';
import { requireServices } from '@kith/test-support';
import { chromiumAvailable, newContext, startEnv, type Env } from './env.js';

/** Runs the suite when Chromium is installed; in CI (KITH_REQUIRE_SERVICES=1) a missing browser fails instead. */
export const browserDescribe = chromiumAvailable() || requireServices ? describe : describe.skip;

export interface Person {
  context: BrowserContext;
  page: Page;
}

export function setupSuite(): { env: () => Env; person: (options?: BrowserContextOptions) => Promise<Person> } {
  let env: Env | undefined;
  const contexts: BrowserContext[] = [];
  // The server sends a strict CSP: anything the app does that it refuses shows up here and fails the test.
  let cspViolations: string[] = [];
  beforeAll(async () => {
    if (!chromiumAvailable() && !requireServices) return;
    env = await startEnv();
  }, 120_000);
  afterAll(async () => {
    await env?.close();
  });
  afterEach(async () => {
    while (contexts.length) await contexts.pop()!.close().catch(() => undefined);
    const seen = cspViolations;
    cspViolations = [];
    expect(seen, 'Content Security Policy violations').toEqual([]);
  });
  return {
    env: () => env!,
    person: async (options) => {
      const context = await newContext(env!, options);
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
      page.on('console', (msg) => {
        if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
      });
      return { context, page };
    },
  };
}
