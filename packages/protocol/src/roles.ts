/** A member's role in a room. The one name for it in client, server and modules. */
export type Role = 'owner' | 'editor' | 'viewer';

export const ROLES: readonly Role[] = ['owner', 'editor', 'viewer'];

const ROLE_SET: ReadonlySet<string> = new Set<string>(ROLES);

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && ROLE_SET.has(value);
}
