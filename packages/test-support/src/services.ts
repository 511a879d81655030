/**
 * Suites that need a service or tool this machine may lack (PostgreSQL, redis-server, a tmpfs
 * mount, nginx, Chromium) skip with a message saying what is missing. CI sets
 * KITH_REQUIRE_SERVICES=1 (.ci/run): there nothing may be skipped, and a missing service fails.
 */
export const requireServices = process.env.KITH_REQUIRE_SERVICES === '1';
