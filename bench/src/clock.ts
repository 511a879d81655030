/**
 * The one clock every load-generator process stamps and times with. `process.hrtime.bigint()` reads
 * CLOCK_MONOTONIC, which on Linux is system-wide, so a send time written by the bench process and a
 * receipt time read in a reader worker are comparable. Counted from an epoch the bench process
 * picks and hands to its workers (KITH_BENCH_EPOCH_NS), so microseconds fit the 12-digit marker.
 */
const EPOCH_NS: bigint = process.env.KITH_BENCH_EPOCH_NS ? BigInt(process.env.KITH_BENCH_EPOCH_NS) : process.hrtime.bigint();

export const benchEpochNs = (): bigint => EPOCH_NS;

/** Milliseconds since the bench epoch (fractional). */
export const benchNowMs = (): number => Number(process.hrtime.bigint() - EPOCH_NS) / 1e6;
