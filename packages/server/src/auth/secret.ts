import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SecretStore } from '../storage/storage.js';

/**
 * The access-token signing secret: from config when given, otherwise generated once and kept
 * in the data dir (mode 0600) so that tokens survive restarts.
 */
export function loadOrCreateJwtSecret(dataDir: string, configured: string | undefined): string {
  if (configured) return configured;
  const file = path.join(dataDir, 'jwt-secret');
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  // 'wx' so that two processes starting at once cannot both write: the loser reads the winner's.
  try {
    fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return fs.readFileSync(file, 'utf8').trim();
  }
}

/**
 * The signing secret when several instances share one database (DATABASE_URL) and none is
 * configured: one secret kept in the database, stored once by whichever instance comes first and
 * read back by every other, so tokens from one instance are accepted by all. A data dir's existing
 * secret file is offered as that first value (its tokens stay valid), and the file is written when
 * absent so that a `kith-sync-google` sharing the data dir finds the same secret there.
 */
export async function loadOrCreateSharedJwtSecret(
  dataDir: string,
  configured: string | undefined,
  secrets: SecretStore,
): Promise<string> {
  if (configured) return configured;
  const file = path.join(dataDir, 'jwt-secret');
  const existing = readSecretFile(file);
  const secret = await secrets.getOrCreate('jwt-secret', existing ?? randomBytes(48).toString('base64url'));
  if (existing === undefined) {
    try {
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return secret;
}

function readSecretFile(file: string): string | undefined {
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    return existing.length >= 32 ? existing : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return undefined;
  }
}
