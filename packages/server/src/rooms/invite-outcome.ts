import { KithError } from '../errors/catalogue.js';
import type { InviteAcceptance } from '../storage/storage.js';

/** Why an invite did not let someone in, as the catalogue's error; nothing for a success. */
export function refuseInvite(outcome: InviteAcceptance['outcome'] | 'username-taken'): void {
  switch (outcome) {
    case 'not-found':
      throw new KithError('INVITE_NOT_FOUND');
    case 'expired':
      throw new KithError('INVITE_EXPIRED');
    case 'used-up':
      throw new KithError('INVITE_USED_UP');
    case 'revoked':
      // Its creator stopped being an owner: their invites went with their role, for good.
      throw new KithError('INVITE_REVOKED');
    case 'removed':
      throw new KithError('REMOVED_FROM_ROOM');
    case 'username-taken':
      throw new KithError('USERNAME_TAKEN');
  }
}
