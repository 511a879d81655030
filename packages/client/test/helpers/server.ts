// The shared test-server helper (@kith/test-support), starting @kith/server's build.
import { tempDir as sharedTempDir, testServers, type TestServer as AnyTestServer } from '@kith/test-support';
import { calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '@kith/server';

export const TEST_JWT_SECRET = 'kith-client-test-secret-0123456789abcdefghijklmnop';

export type TestServer = AnyTestServer<KithServer>;

export function tempDir(prefix = 'kith-client-'): Promise<string> {
  return sharedTempDir(prefix);
}

/** A real kith-server in this process: loopback, port 0 unless given, SQLite in a temp dir. */
export const { startTestServer: startServer } = testServers<KithConfig, KithServer>(
  // Tests here exercise the core with the calendar module, as kith-server composes it.
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 10_000, dataDirPrefix: 'kith-client-server-' },
);
