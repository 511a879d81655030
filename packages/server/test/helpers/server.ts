// The shared test-server helper (@kith/test-support), starting this package's sources.
import { testServers, type TestServer as AnyTestServer } from '@kith/test-support';
import { defaultConfig, startKithServer, type KithConfig, type KithServer } from '../../src/index.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export type TestServer = AnyTestServer<KithServer>;

/** `startTestServer(overrides)`: a real kith-server on a loopback port, SQLite in a fresh temp dir. */
export const { startTestServer, makeDataDir } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-test-' },
);
