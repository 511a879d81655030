/** Keeps asking the server something cheap while an attack runs: the slowest answer shows whether other rooms were blocked. */
export interface Prober {
  stop(): Promise<{ answers: number; slowestMs: number; failures: number }>;
}

export function probeWhile(ask: () => Promise<boolean>, everyMs = 25): Prober {
  let running = true;
  let answers = 0;
  let failures = 0;
  let slowestMs = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const ok = await ask().catch(() => false);
      slowestMs = Math.max(slowestMs, performance.now() - started);
      if (ok) answers++;
      else failures++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { answers, slowestMs: Math.round(slowestMs), failures };
    },
  };
}
