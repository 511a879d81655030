import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig, startKithServer, type KithConfig, type KithServer } from '../../src/index.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestServer {
  server: KithServer;
  url: string;
  wsUrl: string;
  dataDir: string;
  close(): Promise<void>;
}

export async function makeDataDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'kith-test-'));
}

type Overrides = Omit<Partial<KithConfig>, 'limits' | 'sync'> & {
  limits?: Partial<KithConfig['limits']>;
  sync?: Partial<KithConfig['sync']>;
};

/** A real kith-server on a loopback port, with a real SQLite file in a fresh temp dir. */
export async function startTestServer(overrides: Overrides = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? (await makeDataDir());
  const base = defaultConfig();
  const config = defaultConfig({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    jwtSecret: TEST_JWT_SECRET,
    sqliteSynchronous: 'normal',
    ...overrides,
    dataDir,
    limits: { ...base.limits, loginPerMinute: 1000, loginPerAccountPerMinute: 10_000, ...overrides.limits },
    sync: { ...base.sync, ...overrides.sync },
  });
  const server = await startKithServer(config);
  return {
    server,
    url: server.url,
    wsUrl: server.url.replace(/^http/, 'ws') + '/sync',
    dataDir,
    close: () => server.close(),
  };
}
