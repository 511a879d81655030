import fs from 'node:fs';
import path from 'node:path';
import webpush from 'web-push';
import type { Storage } from '../../storage/storage.js';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

const FILE = 'vapid.json';
const SECRET_NAME = 'notify-vapid-keys';

/**
 * The server's VAPID key pair: the configured one; else, with shared storage (several instances),
 * one pair kept in the database so every instance signs alike; else one generated on first start
 * into `<dataDir>/vapid.json` (mode 0600). Browsers' subscriptions are bound to the public key, so
 * it must never change by itself.
 */
export async function loadVapidKeys(
  configured: Partial<VapidKeys>,
  dataDir: string,
  storage: Storage,
): Promise<VapidKeys> {
  if (configured.publicKey && configured.privateKey) return checkKeys({ publicKey: configured.publicKey, privateKey: configured.privateKey }, 'the configuration');
  if (storage.shared) {
    const stored = await storage.secrets.getOrCreate(SECRET_NAME, JSON.stringify(webpush.generateVAPIDKeys()));
    return parseKeys(stored, 'shared storage');
  }
  const file = path.join(dataDir, FILE);
  try {
    // `wx`: of two processes starting at once, one writes and the other reads its keys.
    fs.writeFileSync(file, JSON.stringify(webpush.generateVAPIDKeys()), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return parseKeys(fs.readFileSync(file, 'utf8'), file);
}

function parseKeys(text: string, where: string): VapidKeys {
  const keys = JSON.parse(text) as Partial<VapidKeys>;
  if (typeof keys.publicKey !== 'string' || typeof keys.privateKey !== 'string') {
    throw new Error(`VAPID keys in ${where} are unreadable`);
  }
  return checkKeys({ publicKey: keys.publicKey, privateKey: keys.privateKey }, where);
}

/** A P-256 pair as web-push makes them: 65-byte uncompressed public point, 32-byte private scalar, base64url. */
function checkKeys(keys: VapidKeys, where: string): VapidKeys {
  const bytes = (s: string) => (/^[A-Za-z0-9_-]+$/.test(s) ? Buffer.from(s, 'base64url').length : 0);
  if (bytes(keys.publicKey) !== 65 || bytes(keys.privateKey) !== 32) {
    throw new Error(`VAPID keys in ${where} must be base64url: a 65-byte public key and a 32-byte private key`);
  }
  return keys;
}
