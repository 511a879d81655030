/**
 * Which Google grant a link holds. Google keeps one grant per (Google account, OAuth client), and its revoke
 * endpoint ends the whole grant: every token of it, for every room linked with that account. So a token may
 * only be revoked when no other link holds the same grant; otherwise it is just forgotten locally.
 *
 * A grant is named by a hash of the client id and the account's stable id (`sub` from Google's tokeninfo),
 * so the state file names no Google account.
 */
import { createHash } from 'node:crypto';
import type { OAuth2Client } from 'google-auth-library';
import { classify } from './google.js';
import type { LinkRow } from './store.js';

/** Tokeninfo is one small request; a hung answer must not hold an unlink or a callback. */
const TOKENINFO_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('tokeninfo timed out')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The grant an access token belongs to, or null when Google does not say whose it is. */
export async function grantKeyOf(client: OAuth2Client, accessToken: string): Promise<string | null> {
  const info = await withTimeout(client.getTokenInfo(accessToken), TOKENINFO_TIMEOUT_MS);
  const clientId = info.aud || info.azp;
  if (!info.sub || !clientId) return null;
  return createHash('sha256').update(`${clientId}\n${info.sub}`).digest('hex');
}

/** The lookup over a worker's state file and link clients. */
export function grantLookup(w: {
  store: { links(): LinkRow[]; updateLink(roomId: string, patch: { grantKey: string }, now: number): void };
  clients(link: LinkRow): { auth: OAuth2Client };
  o: { now(): number };
}): GrantLookup {
  return {
    links: () => w.store.links(),
    clientOf: (link) => w.clients(link).auth,
    remember: (roomId, grantKey) => w.store.updateLink(roomId, { grantKey }, w.o.now()),
  };
}

export interface GrantLookup {
  /** Every link in the state file. */
  links(): LinkRow[];
  /** An authorised client for a link (refreshes its access token when needed). */
  clientOf(link: LinkRow): OAuth2Client;
  /** Remembers a grant found for a link that was stored without one. */
  remember(roomId: string, grantKey: string): void;
}

/** 'gone': Google refused the link's tokens, so it holds no live grant; 'unknown': Google could not tell now. */
export type LinkGrant = { key: string } | 'gone' | 'unknown';

/** The grant a stored link holds: stored at linking time, or asked of Google for links stored before that. */
export async function grantOfLink(lookup: GrantLookup, link: LinkRow): Promise<LinkGrant> {
  // Tokens erased (the linking user deleted their account): the link holds no grant any more.
  if (!link.tokens) return 'gone';
  if (link.grantKey) return { key: link.grantKey };
  try {
    const client = lookup.clientOf(link);
    const { token } = await withTimeout(client.getAccessToken(), TOKENINFO_TIMEOUT_MS);
    if (!token) return 'unknown';
    const key = await grantKeyOf(client, token);
    if (!key) return 'unknown';
    lookup.remember(link.roomId, key);
    return { key };
  } catch (err) {
    const f = classify(err);
    if (f.kind === 'invalid_grant' || f.status === 400 || f.status === 401) return 'gone';
    return 'unknown';
  }
}

/**
 * Whether revoking `grantKey` would cut off any link other than `exceptRoomId`. When a link's grant cannot be
 * determined right now it counts as shared: forgetting a token locally is safe, revoking a grant another
 * room still uses is not.
 */
export async function grantUsedElsewhere(lookup: GrantLookup, grantKey: string | null, exceptRoomId: string | null): Promise<boolean> {
  // A link whose tokens were erased holds no grant.
  const others = lookup.links().filter((l) => l.roomId !== exceptRoomId && l.tokens);
  if (others.length === 0) return false;
  if (grantKey === null) return true;
  for (const link of others) {
    const g = await grantOfLink(lookup, link);
    if (g === 'unknown' || (g !== 'gone' && g.key === grantKey)) return true;
  }
  return false;
}

/**
 * What unlinking `link` may revoke at Google: its grant, unless another link holds it (or might: see
 * `grantUsedElsewhere`). A grant Google already refuses needs no revocation.
 */
export async function revocableGrant(lookup: GrantLookup, link: LinkRow): Promise<{ revoke: boolean; grantKey: string | null }> {
  const own = await grantOfLink(lookup, link);
  if (own === 'gone') return { revoke: false, grantKey: null };
  const grantKey = own === 'unknown' ? null : own.key;
  return { revoke: !(await grantUsedElsewhere(lookup, grantKey, link.roomId)), grantKey };
}
