import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Where the node's signer key lives: `registry.signer_key`, else under data_dir. */
export interface SignerKeyPlace {
  /** `registry.signer_key` ('' = the default place). */
  keyFile: string;
  dataDir: string;
  amnesia: boolean;
}

export function signerKeyPlace(
  keyFile: string,
  host: { data_dir: string; amnesia: boolean },
): SignerKeyPlace {
  return { keyFile, dataDir: host.data_dir, amnesia: host.amnesia };
}

export interface SignerKey {
  /** Where the key lives; null when ephemeral (amnesia without an explicit key file). */
  path: string | null;
  signerId: string;
  created: boolean;
}

/** svc-registry's key file format (`svc-registry keygen`, `ronctl keygen`). */
interface KeyFile {
  alg: 'ed25519';
  signer_id: string;
  /** base64url of the 32-byte private seed. */
  seed: string;
}

const SIGNER_ID = /^ed25519:[A-Za-z0-9_-]{43}$/;

/**
 * A fresh Ed25519 key in the registry's key file format. Done with node:crypto here so the host and
 * the other planes never load the registry package: the signer id is "ed25519:" + base64url of the
 * raw public key, which is exactly the JWK `x`, and the seed is the JWK `d`.
 */
function generateKeyFile(): KeyFile {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return { alg: 'ed25519', signer_id: `ed25519:${jwk.x ?? ''}`, seed: jwk.d ?? '' };
}

const ephemeral = new Map<string, KeyFile>();

/**
 * The signer id of the node's key file if one exists (never creates one): what a restore audits
 * the registry's signatures against.
 */
export function existingSignerId(p: SignerKeyPlace): string | undefined {
  const path = keyPath(p);
  try {
    const k = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
    return typeof k.signer_id === 'string' && SIGNER_ID.test(k.signer_id) ? k.signer_id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The node's local signer key (threshold 1 by default): read from `registry.signer_key` or
 * `<data_dir>/keys/signer.key`, created (mode 0600) on first run. With amnesia and no explicit key
 * file, a key is generated in memory for the life of this process and never written.
 */
export function ensureSignerKey(p: SignerKeyPlace): SignerKey {
  if (p.amnesia && p.keyFile === '') {
    let k = ephemeral.get(p.dataDir);
    if (k === undefined) {
      k = generateKeyFile();
      ephemeral.set(p.dataDir, k);
    }
    return { path: null, signerId: k.signer_id, created: false };
  }
  const path = keyPath(p);
  try {
    const k = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
    if (typeof k.signer_id !== 'string' || !SIGNER_ID.test(k.signer_id))
      throw new Error(`${path} is not a signer key file`);
    return { path, signerId: k.signer_id, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const k = generateKeyFile();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(k, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { path, signerId: k.signer_id, created: true };
}

function keyPath(p: SignerKeyPlace): string {
  return resolve(p.keyFile !== '' ? p.keyFile : resolve(p.dataDir, 'keys', 'signer.key'));
}
