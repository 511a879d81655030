/**
 * JobThread, the long-lived worker behind compaction merges and SQLite's reader thread: jobs are
 * answered by id (several in flight at once), an error reply rejects with its code, a thread that
 * dies fails only its own jobs and the next job starts another, an idle thread stops and comes
 * back on demand, and a closed one refuses work. Real worker threads.
 */
import { afterEach, expect, it } from 'vitest';
import { JobThread } from '../src/util/job-thread.js';

const script = (body: string) =>
  new URL(`data:text/javascript,${encodeURIComponent(`import { parentPort, threadId } from 'node:worker_threads';\n${body}`)}`);

/** Answers `{ n }` with n * 2 and its thread id, after `delay` ms; `fail` replies an error; `die` exits. */
const doubler = script(`
parentPort.on('message', (job) => {
  if (job.die) process.exit(3);
  if (job.fail) return parentPort.postMessage({ id: job.id, error: 'no: ' + job.n, code: 'E_NO' });
  setTimeout(() => parentPort.postMessage({ id: job.id, answer: { doubled: job.n * 2, thread: threadId } }), job.delay ?? 0);
});`);

const open: JobThread<unknown>[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

function thread(idleMs?: number, onCrash?: (err: Error) => void) {
  const t = new JobThread<{ doubled: number; thread: number }>(doubler, { name: 'doubler', idleMs, onCrash });
  open.push(t as JobThread<unknown>);
  return t;
}

it('answers each job by its id, several in flight at once, on one thread', async () => {
  const t = thread();
  const answers = await Promise.all([t.run({ n: 1, delay: 30 }), t.run({ n: 2, delay: 0 }), t.run({ n: 3, delay: 10 })]);
  expect(answers.map((a) => a.doubled)).toEqual([2, 4, 6]);
  expect(new Set(answers.map((a) => a.thread)).size).toBe(1);
});

it('an error reply rejects that job with its message and code; the thread goes on', async () => {
  const t = thread();
  await expect(t.run({ n: 5, fail: true })).rejects.toMatchObject({ message: 'no: 5', code: 'E_NO' });
  expect((await t.run({ n: 5 })).doubled).toBe(10);
});

it('a thread that dies fails its jobs in flight, is reported, and the next job starts another', async () => {
  const crashes: Error[] = [];
  const t = thread(undefined, (err) => crashes.push(err));
  const first = await t.run({ n: 1 });
  const slow = t.run({ n: 2, delay: 5_000 });
  await expect(t.run({ die: true })).rejects.toThrow(/doubler thread exited with code 3/);
  await expect(slow).rejects.toThrow(/exited/);
  expect(crashes).toHaveLength(1);
  const again = await t.run({ n: 4 });
  expect(again.doubled).toBe(8);
  expect(again.thread).not.toBe(first.thread);
});

it('an idle thread stops, without failing anything, and the next job starts a new one', async () => {
  const crashes: Error[] = [];
  const t = thread(50, (err) => crashes.push(err));
  const before = await t.run({ n: 1 });
  await new Promise((r) => setTimeout(r, 300));
  const after = await t.run({ n: 2 });
  expect(after.doubled).toBe(4);
  expect(after.thread).not.toBe(before.thread);
  expect(crashes).toEqual([]);
});

it('closing fails the jobs in flight and refuses new ones', async () => {
  const t = thread();
  const pending = t.run({ n: 1, delay: 5_000 }).catch((err: Error) => err);
  await t.close();
  expect(await pending).toMatchObject({ message: 'doubler is closed' });
  await expect(t.run({ n: 2 })).rejects.toThrow('doubler is closed');
});
