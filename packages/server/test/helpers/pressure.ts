import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Watches the test process (where an in-process kith-server runs) during an attack: the worst
 * event-loop stall and the peak RSS. Hardening tests assert a bound on the stall and report both
 * figures; with KITH_PRESSURE_REPORT=<file> each figure is also appended there as a JSON line.
 */
export interface PressureReport {
  name: string;
  worstStallMs: number;
  peakRssMb: number;
}

export interface PressureWatch {
  /** Stops watching and returns (and reports) the figures. */
  stop(): PressureReport;
}

export function watchPressure(name: string): PressureWatch {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 20);
  return {
    stop() {
      clearInterval(sampler);
      delay.disable();
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      const report: PressureReport = {
        name,
        // The histogram's max is in nanoseconds and includes the resolution; subtract it.
        worstStallMs: Math.max(0, Math.round(delay.max / 1e6 - 10)),
        peakRssMb: Math.round(peakRss / (1024 * 1024)),
      };
      const file = process.env.KITH_PRESSURE_REPORT;
      if (file) fs.appendFileSync(file, JSON.stringify(report) + '\n');
      return report;
    },
  };
}
