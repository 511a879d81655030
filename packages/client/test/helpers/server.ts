import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '@kith/server';

export const TEST_JWT_SECRET = 'kith-client-test-secret-0123456789abcdefghijklmnop';

export interface TestServer {
  server: KithServer;
  url: string;
  port: number;
  dataDir: string;
  close(): Promise<void>;
}

type Overrides = Omit<Partial<KithConfig>, 'limits' | 'sync'> & {
  limits?: Partial<KithConfig['limits']>;
  sync?: Partial<KithConfig['sync']>;
};

export function tempDir(prefix = 'kith-client-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A real kith-server in this process: loopback, port 0 unless given, SQLite in a temp dir. */
export async function startServer(overrides: Overrides = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? (await tempDir('kith-client-server-'));
  const base = defaultConfig();
  const config = defaultConfig({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    jwtSecret: TEST_JWT_SECRET,
    sqliteSynchronous: 'normal',
    ...overrides,
    dataDir,
    limits: { ...base.limits, loginPerMinute: 10_000, loginPerAccountPerMinute: 10_000, ...overrides.limits },
    sync: { ...base.sync, ...overrides.sync },
  });
  const server = await startKithServer(config, { modules: [calendarModule()] });
  let closed = false;
  return {
    server,
    url: server.url,
    port: server.port,
    dataDir,
    close: async () => {
      if (closed) return;
      closed = true;
      await server.close();
    },
  };
}
