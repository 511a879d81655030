import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * A real kith-server in the test's process. Which kith-server is the caller's to say: @kith/server's
 * own tests start its sources, the other packages its build. So this package imports no Kith
 * package, and no workspace cycle arises (@kith/server depends on @kith/sync-google, whose tests
 * use this package).
 */
export interface KithServerEntry<Config extends TestableConfig, Server extends TestableServer> {
  defaultConfig(overrides?: Partial<Config>): Config;
  startKithServer(config: Config): Promise<Server>;
}

/** What the helper sets in a kith-server config; the rest is the caller's overrides. */
interface TestableConfig {
  dataDir: string;
  limits: { loginPerMinute: number; loginPerAccountPerMinute: number };
  sync: object;
}

interface TestableServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface TestServer<Server extends TestableServer = TestableServer> {
  server: Server;
  url: string;
  /** The sync endpoint: `ws://…/sync`. */
  wsUrl: string;
  port: number;
  dataDir: string;
  /** Closes the server; a second call does nothing. */
  close(): Promise<void>;
}

export type TestServerOverrides<Config extends TestableConfig> = Omit<Partial<Config>, 'limits' | 'sync'> & {
  limits?: Partial<Config['limits']>;
  sync?: Partial<Config['sync']>;
};

/** Per package: the JWT secret its tests sign tokens with, and how freely they may log in. */
export interface TestServerDefaults {
  jwtSecret: string;
  loginPerMinute: number;
  dataDirPrefix: string;
}

export function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * Binds the helper to one kith-server entry: `startTestServer(overrides)` starts a real
 * kith-server on a loopback port, with a real SQLite file in a fresh temp dir.
 */
export function testServers<Config extends TestableConfig, Server extends TestableServer>(
  { defaultConfig, startKithServer }: KithServerEntry<Config, Server>,
  defaults: TestServerDefaults,
) {
  const makeDataDir = (): Promise<string> => tempDir(defaults.dataDirPrefix);

  async function startTestServer(overrides: TestServerOverrides<Config> = {} as TestServerOverrides<Config>): Promise<TestServer<Server>> {
    const dataDir = (overrides.dataDir as string | undefined) ?? (await makeDataDir());
    const base = defaultConfig();
    const config = defaultConfig({
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      jwtSecret: defaults.jwtSecret,
      sqliteSynchronous: 'normal',
      ...overrides,
      dataDir,
      limits: { ...base.limits, loginPerMinute: defaults.loginPerMinute, loginPerAccountPerMinute: 10_000, ...overrides.limits },
      sync: { ...base.sync, ...overrides.sync },
    } as unknown as Partial<Config>);
    const server = await startKithServer(config);
    let closed = false;
    return {
      server,
      url: server.url,
      wsUrl: server.url.replace(/^http/, 'ws') + '/sync',
      port: server.port,
      dataDir,
      close: async () => {
        if (closed) return;
        closed = true;
        await server.close();
      },
    };
  }

  return { startTestServer, makeDataDir };
}
