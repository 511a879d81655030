/** The shape of a workload's results, shared by the workloads, the report and latest.json. */
import type { ServerKind } from './servers.js';

export type Format = 'ms' | 'us' | 'int' | 'kb' | 'mb' | 's' | 'pct' | 'num' | 'text';

export interface Column {
  key: string;
  label: string;
  format: Format;
  /** Which way is better; columns with a direction get a Kith/anchor ratio. */
  better?: 'lower' | 'higher';
}

export interface Target {
  key: string;
  op: '<=' | '>=' | '==';
  value: number;
  /**
   * When set, the target compares Kith with this server's figure times `value` instead of a constant;
   * 'best-anchor' is the best figure among the other servers in the run (lowest, or highest for '>=').
   */
  relativeTo?: ServerKind | 'best-anchor';
  label: string;
}

export type Figures = Record<string, number | string | null>;

export interface WorkloadResult {
  id: string;
  title: string;
  description: string;
  params: Record<string, unknown>;
  columns: Column[];
  servers: Partial<Record<ServerKind, Figures>>;
  /** Latency percentile curves (ms at CHART_PERCENTILES) for the chart. */
  curves?: Partial<Record<ServerKind, number[]>>;
  targets?: Target[];
  /** Further tables (e.g. W5's steps), rendered after the main one. */
  extraTables?: Array<{ title: string; columns: Column[]; rows: Figures[] }>;
  notes: string[];
  /** Wall time the workload took, seconds. */
  wallSeconds?: number;
  error?: string;
}
