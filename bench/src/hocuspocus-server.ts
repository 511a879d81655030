/**
 * Hocuspocus as a user would run it: `new Server()` with the SQLite extension on a file, every
 * other option at its default (debounce 2 s / max 10 s, unloadImmediately, flushDelay 0, no
 * auth hook). Started as its own process by the bench.
 */
import { Server } from '@hocuspocus/server';
import { SQLite } from '@hocuspocus/extension-sqlite';

const port = Number(process.env.PORT);
const database = process.env.HOCUSPOCUS_DB;
if (!port || !database) {
  process.stderr.write('PORT and HOCUSPOCUS_DB are required\n');
  process.exit(2);
}

const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  extensions: [new SQLite({ database })],
});
await server.listen();
process.stdout.write(`hocuspocus listening on ${port} (node ${process.version})\n`);
