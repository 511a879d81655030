/**
 * Worker jobs move their big byte arrays instead of copying them (postMoving): an array that is its
 * buffer's whole arrives intact in the worker and is left empty here; a view into a shared buffer
 * (Node's Buffer pool, a slice) is copied, and the other views into that buffer stay intact. Real
 * worker threads.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, expect, it } from 'vitest';
import { postMoving, runInWorker } from '../src/util/worker-run.js';

const workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.terminate();
});

/** A worker that answers each message with the bytes it got, as plain numbers. */
function echo(): Worker {
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.on('message', (m) => parentPort.postMessage(m.parts.map((p) => [...p])));`,
    { eval: true },
  );
  workers.push(w);
  return w;
}

const answer = (w: Worker) => new Promise<number[][]>((resolve) => w.once('message', resolve));

it('moves whole arrays, copies views into shared buffers, and every byte arrives', async () => {
  const whole = new Uint8Array(1024 * 1024).fill(7);
  const pooled = Buffer.from('abc'); // a view into Node's shared pool
  const neighbour = Buffer.from('xyz'); // another view into that pool
  const backing = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const slice = backing.subarray(2, 4);
  const w = echo();
  const got = answer(w);
  postMoving(w, { parts: [whole, pooled, slice] }, [whole, pooled, slice]);
  const [w0, p0, s0] = await got;
  expect(w0!.length).toBe(1024 * 1024);
  expect(w0!.every((b) => b === 7)).toBe(true);
  expect(p0).toEqual([...Buffer.from('abc')]);
  expect(s0).toEqual([3, 4]);
  // Moved: empty here. Copied: still readable, and so are their neighbours.
  expect(whole.byteLength).toBe(0);
  expect(pooled.toString()).toBe('abc');
  expect(neighbour.toString()).toBe('xyz');
  expect([...backing]).toEqual([1, 2, 3, 4, 5, 6]);
});

it('the same buffer named twice is moved once', async () => {
  const shared = new Uint8Array(1024).fill(1);
  const w = echo();
  const got = answer(w);
  postMoving(w, { parts: [shared, shared] }, [shared, shared]);
  const parts = await got;
  expect(parts.map((p) => p.length)).toEqual([1024, 1024]);
  expect(shared.byteLength).toBe(0);
});

it('runInWorker moves the job’s arrays to its fresh worker', async () => {
  const stored = [new Uint8Array(1 << 20).fill(3), new Uint8Array(10).fill(4)];
  const script = new URL(`data:text/javascript,${encodeURIComponent(`
    import { parentPort } from 'node:worker_threads';
    parentPort.once('message', (job) => parentPort.postMessage(job.stored.map((s) => s.reduce((a, b) => a + b, 0))));`)}`);
  const outcome = await runInWorker<number[]>(script, { stored }, { timeoutMs: 10_000, memoryMb: 64 }, new Set(), stored);
  expect(outcome).toEqual({ kind: 'answer', answer: [3 << 20, 40] });
  expect(stored.map((s) => s.byteLength)).toEqual([0, 0]);
});
