/**
 * Secrets at rest and in flight: OAuth tokens are stored encrypted (AES-256-GCM, the row's room id as
 * associated data, so a ciphertext cannot be moved to another row), and the OAuth `state` parameter is a
 * signed (HMAC-SHA256) statement of who asked to link which room, checked on the callback.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const KEY_FILE = 'google-token.key';

/**
 * The 32-byte master key: from `configured` (64 hex chars, base64 of 32 bytes, or any passphrase of at least
 * 32 characters, which is hashed), otherwise generated once into `<dataDir>/google-token.key` (mode 0600).
 */
export function loadMasterKey(dataDir: string, configured: string | undefined): Buffer {
  if (configured !== undefined && configured !== '') {
    if (/^[0-9a-f]{64}$/i.test(configured)) return Buffer.from(configured, 'hex');
    const b64 = Buffer.from(configured, 'base64');
    if (b64.length === 32 && /^[A-Za-z0-9+/_-]+=*$/.test(configured)) return b64;
    if (configured.length < 32) {
      throw new Error('GOOGLE_TOKEN_KEY must be 32 bytes (64 hex characters or base64) or a passphrase of at least 32 characters');
    }
    return createHash('sha256').update(configured, 'utf8').digest();
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, KEY_FILE);
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{64}$/i.test(existing)) return Buffer.from(existing, 'hex');
    throw new Error(`${file} does not hold a 64-character hex key`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  try {
    fs.writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadMasterKey(dataDir, undefined);
    throw err;
  }
}

export class Secrets {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;

  constructor(master: Buffer) {
    this.encKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'kith sync-google tokens v1', 32));
    this.macKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'kith sync-google state v1', 32));
  }

  /** "v1." + base64url(iv | tag | ciphertext). */
  encrypt(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  decrypt(sealed: string, aad: string): string {
    if (!sealed.startsWith('v1.')) throw new Error('unknown token encryption format');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.encKey, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }

  sign(payload: string): string {
    return createHmac('sha256', this.macKey).update(payload).digest('base64url');
  }

  /** `base64url(json).mac` */
  seal(value: object): string {
    const body = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** The value of a sealed string, or null if it was tampered with. */
  open<T>(sealed: string): T | null {
    const dot = sealed.lastIndexOf('.');
    if (dot <= 0) return null;
    const body = sealed.slice(0, dot);
    const mac = Buffer.from(sealed.slice(dot + 1), 'utf8');
    const want = Buffer.from(this.sign(body), 'utf8');
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return null;
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
    } catch {
      return null;
    }
  }

  /** A secret derived per channel, sent as X-Goog-Channel-Token and checked on each notification. */
  channelToken(channelId: string): string {
    return this.sign(`channel:${channelId}`);
  }
}
