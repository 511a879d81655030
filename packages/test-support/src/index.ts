// Helpers the Kith packages' tests share. Consumed from source by vitest and tsc: no build step.
export { mulberry32, Rng } from './prng.js';
export { freePort } from './ports.js';
export { RedisProcess, redisServerAvailable } from './redis-process.js';
export { requireServices } from './services.js';
export { tempDir, testServers, type KithServerEntry, type TestServer, type TestServerDefaults, type TestServerOverrides } from './test-server.js';
export { RadicaleProcess, radicaleAvailable } from './radicale-process.js';
