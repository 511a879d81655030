/**
 * N1 reminder scheduler (issue 14): 10,000 rooms × 50 events with reminders for a family of four.
 * Runs bench/src/notify-scheduler.ts in its own Node process (with --expose-gc, so its memory figure
 * counts live objects only, and nothing of the bench process is in it): the cost of one "look" at a
 * room is measured on a sample of real rooms and extrapolated to 10,000 rooms; the due index is built
 * at full size and measured.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Column, Target, WorkloadResult } from '../result.js';

export interface SchedulerSpec {
  sampleRooms: number;
  targets?: Target[];
}

interface SchedulerFigures {
  sampleRooms: number;
  eventsPerRoom: number;
  msPerLook: number;
  wallMsPerLook: number;
  looksPerRoomPerHour: number;
  extrapolatedRooms: number;
  schedulerCpuSecondsPerHour: number;
  indexMemoryMiB: number;
  note: string;
}

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'notify-scheduler.js');

const COLUMNS: Column[] = [
  { key: 'extrapolatedRooms', label: 'rooms', format: 'int' },
  { key: 'eventsPerRoom', label: 'events per room', format: 'int' },
  { key: 'sampleRooms', label: 'rooms measured', format: 'int' },
  { key: 'msPerLook', label: 'CPU ms per look', format: 'ms', better: 'lower' },
  { key: 'looksPerRoomPerHour', label: 'looks per room per hour', format: 'num' },
  { key: 'schedulerCpuSecondsPerHour', label: 'scheduler CPU s per hour', format: 's', better: 'lower' },
  { key: 'cpuPctOfCore', label: 'share of one core %', format: 'pct', better: 'lower' },
  { key: 'indexMemoryMiB', label: 'index memory MB', format: 'mb', better: 'lower' },
];

export async function runScheduler(spec: SchedulerSpec): Promise<WorkloadResult> {
  const started = performance.now();
  const out = execFileSync(process.execPath, ['--expose-gc', SCRIPT, '--rooms', String(spec.sampleRooms)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const f = JSON.parse(out) as SchedulerFigures;
  return {
    id: 'N1',
    title: `N1 reminder scheduler, ${f.extrapolatedRooms.toLocaleString('en-US')} rooms × ${f.eventsPerRoom} events (Kith)`,
    description: `The notify module's scheduler: per room, a "look" expands its reminders over the next four weeks when one falls due, when the room changes, and once a day otherwise; the next due time per room sits in an index. A look is timed on ${f.sampleRooms} real rooms (30 one-off events over the next month and 20 weekly series, a 30-minute reminder each, four members) and extrapolated; the index is built for every room and measured.`,
    params: { sampleRooms: f.sampleRooms, rooms: f.extrapolatedRooms, eventsPerRoom: f.eventsPerRoom },
    columns: COLUMNS,
    servers: { kith: { ...f, cpuPctOfCore: (f.schedulerCpuSecondsPerHour / 3600) * 100 } },
    targets: spec.targets,
    notes: [`Measured in its own process (\`node --expose-gc dist/notify-scheduler.js --rooms ${spec.sampleRooms}\`, also \`pnpm --filter @kith/bench bench:notify\`); ${f.note}.`],
    wallSeconds: (performance.now() - started) / 1000,
  };
}
