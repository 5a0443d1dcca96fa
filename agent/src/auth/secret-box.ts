import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Encryption at rest for the TOTP secrets of the user store: AES-256-GCM under a key kept
 * beside it in `<data-dir>/secret.key` (32 random bytes, owner-only). A TOTP secret, unlike
 * a password, must be recoverable to check codes, so it cannot be hashed; encrypting it
 * means a copy of users.db alone (a backup, a support bundle) does not give away anyone's
 * second factor. It does not help against someone who can read the whole data directory:
 * keep the directory owner-only (the service user) and back up secret.key apart from the db.
 */

export const SECRET_KEY_FILE = 'secret.key';
const KEY_BYTES = 32;
// NIST SP 800-38D §5.2.1.1 and §8.2.2: a 96-bit IV, random per message; 2^32 messages per key is far beyond a ward's users.
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 1;

export class SecretBoxError extends Error {
  readonly code = 'SECRET_BOX';
}

/** The key of `<dataDir>/secret.key`, created (0600, exclusively) on first use. */
export function loadOrCreateSecretKey(dataDir: string): Buffer {
  const file = join(dataDir, SECRET_KEY_FILE);
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(KEY_BYTES));
    } finally {
      closeSync(fd);
    }
    chmodSync(file, 0o600);
  } catch (error) {
    // EEXIST: made earlier, or by another process a moment ago; read it as it is.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const key = readFileSync(file);
  if (key.length !== KEY_BYTES) throw new SecretBoxError(`${file} holds ${key.length} bytes, not a ${KEY_BYTES}-byte key; restore it from backup (without it, every user must enrol MFA again: wardwatch users reset-mfa)`);
  return key;
}

/**
 * Seals and opens small secrets. `context` is bound to the ciphertext as GCM additional
 * data (SP 800-38D §7.1): a secret sealed for one user does not open as another's, so
 * copying a known ciphertext from one row of the store into another gains nothing.
 * Sealed form: version byte, IV, tag, ciphertext.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new SecretBoxError(`AES-256-GCM needs a ${KEY_BYTES}-byte key`);
    this.key = key;
  }

  static forDataDir(dataDir: string): SecretBox {
    return new SecretBox(loadOrCreateSecretKey(dataDir));
  }

  seal(plaintext: Uint8Array, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  /** The plaintext; throws SecretBoxError when the box was altered, sealed under another key or for another context. */
  open(sealed: Uint8Array, context: string): Buffer {
    const box = Buffer.from(sealed);
    if (box.length < 1 + IV_BYTES + TAG_BYTES || box[0] !== VERSION) throw new SecretBoxError('not a sealed secret of this version');
    const iv = box.subarray(1, 1 + IV_BYTES);
    const tag = box.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(box.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretBoxError('the sealed secret does not open with this key and context (altered, or secret.key replaced)');
    }
  }
}
