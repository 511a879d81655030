// The shared test-server helper (@kith/test-support), starting this package's sources.
import { testServers, type TestServer as AnyTestServer } from '@kith/test-support';
import { calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../../src/index.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export type TestServer = AnyTestServer<KithServer>;

/** `startTestServer(overrides)`: a real kith-server on a loopback port, SQLite in a fresh temp dir. */
export const { startTestServer, makeDataDir } = testServers<KithConfig, KithServer>(
  // Tests here exercise the core with the calendar module, as kith-server composes it.
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-test-' },
);
