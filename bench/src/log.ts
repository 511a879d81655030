export type Logger = (line: string) => void;

export function makeLogger(): Logger {
  const t0 = performance.now();
  return (line) => {
    const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
    process.stdout.write(`[${s}s] ${line}\n`);
  };
}
