/**
 * Attempts per minute at a password check, from the config's `loginPerMinute` and
 * `loginPerAccountPerMinute`: one policy for login and for every other sign-in (CalDAV's Basic).
 * Why these three keys: see the login limits in routes.ts.
 */
export interface LoginLimits {
  /** From one client address for one username. */
  perIpAndUsername: number;
  /** From one client address across usernames: 3×, room for a household behind one NAT. */
  perIp: number;
  /** For one username from every address together. */
  perAccount: number;
}

export function loginLimits(config: { loginPerMinute: number; loginPerAccountPerMinute: number }): LoginLimits {
  return {
    perIpAndUsername: config.loginPerMinute,
    perIp: config.loginPerMinute * 3,
    perAccount: config.loginPerAccountPerMinute,
  };
}
