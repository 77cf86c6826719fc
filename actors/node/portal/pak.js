// A Data Custodian's or Data Analyst's key pair, made and used in this browser (DESIGN.md §12): an
// ECDSA P-256 key whose public half (the PAK) the node registers and whose private half signs the
// slot authorizations the CT VMs check (vm.proto SlotAuthorization, actors/vm/task_policy.hpp). The
// private key is generated extractable only to write its encrypted backup; what the browser keeps
// is a non-extractable copy unwrapped from that backup.

import {ProtoWriter, concat, ecdsaDer, fromBase64, randomBytes, toBase64, toHex, utf8} from './encoding.js';

const curve = {name: 'ECDSA', namedCurve: 'P-256'};
const signing = {name: 'ECDSA', hash: 'SHA-256'};
/// OWASP's 2023 figure for PBKDF2-HMAC-SHA256; a backup asking for more than the maximum is refused
/// (it would keep the page busy for minutes).
const kdfIterations = 600000;
const maxKdfIterations = 10000000;
const backupFormat = 'joconde-pak-backup/1';
/// The prefix the CT VMs expect before the serialized SlotAuthorization (task_policy.hpp).
const authorizationLabel = 'joconde/slot-authorization/v1';

/// The AES-256-GCM key a passphrase gives with `salt` (usable to wrap and unwrap keys only).
async function passphraseKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey('raw', utf8(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({name: 'PBKDF2', hash: 'SHA-256', salt, iterations}, base,
    {name: 'AES-GCM', length: 256}, false, ['wrapKey', 'unwrapKey']);
}

/// The backup's AES-GCM parameters; the PAK is authenticated with it, so a backup's public key
/// cannot be swapped for another.
function gcm(iv, pak) {
  return {name: 'AES-GCM', iv, additionalData: pak};
}

/// Makes a key pair for `about` ({uuid, slot, upload, name, user, node}): resolves to
/// {privateKey (non-extractable), pak (SPKI DER), backup (a JSON-ready object: the private key
/// encrypted under `passphrase`)}.
export async function createKey(about, passphrase) {
  const pair = await crypto.subtle.generateKey(curve, true, ['sign', 'verify']);
  const pak = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const wrapping = await passphraseKey(passphrase, salt, kdfIterations);
  const wrapped = new Uint8Array(await crypto.subtle.wrapKey('pkcs8', pair.privateKey, wrapping, gcm(iv, pak)));
  // The key kept is the backup opened again: never extractable, and proof that the backup opens.
  const privateKey = await crypto.subtle.unwrapKey('pkcs8', wrapped, wrapping, gcm(iv, pak), curve, false, ['sign']);
  const backup = {
    format: backupFormat,
    node: about.node,
    user: about.user,
    ct_uuid: about.uuid,
    slot: about.slot,
    direction: about.upload ? 'input' : 'output',
    name: about.name,
    pak: toBase64(pak),
    kdf: {name: 'PBKDF2', hash: 'SHA-256', iterations: kdfIterations, salt: toBase64(salt)},
    cipher: {name: 'AES-GCM', iv: toBase64(iv), additional_data: 'pak'},
    wrapped_pkcs8: toBase64(wrapped),
    created_at: new Date().toISOString(),
  };
  return {privateKey, pak, backup};
}

/// Opens a backup (its parsed JSON) for the slot `about` ({uuid, slot, upload}) with
/// `passphrase`: resolves to {privateKey (non-extractable), pak, name}; throws saying what is
/// wrong (another CT or slot, a wrong passphrase, not a backup).
export async function restoreKey(backup, about, passphrase) {
  if (!backup || backup.format !== backupFormat)
    throw new Error('this file is not a key backup of the portal');
  const direction = about.upload ? 'input' : 'output';
  if (backup.ct_uuid !== about.uuid || backup.slot !== about.slot || backup.direction !== direction)
    throw new Error(`this backup is the key of ${backup.direction} ${backup.slot} of CT ${backup.ct_uuid}, `
      + `not of ${direction} ${about.slot} of this CT`);
  const iterations = backup.kdf?.iterations;
  if (backup.kdf?.name !== 'PBKDF2' || backup.kdf?.hash !== 'SHA-256' || !Number.isInteger(iterations)
      || iterations < kdfIterations || iterations > maxKdfIterations || backup.cipher?.name !== 'AES-GCM')
    throw new Error('this backup uses a key derivation or cipher the portal does not accept');
  const pak = fromBase64(backup.pak);
  const wrapping = await passphraseKey(passphrase, fromBase64(backup.kdf.salt), iterations);
  let privateKey;
  try {
    privateKey = await crypto.subtle.unwrapKey('pkcs8', fromBase64(backup.wrapped_pkcs8), wrapping,
      gcm(fromBase64(backup.cipher.iv), pak), curve, false, ['sign']);
  } catch {
    throw new Error('the backup does not open with this passphrase (or the file was altered)');
  }
  // The private key must be the PAK's: a signature it makes must verify under the PAK.
  const probe = utf8(`joconde/pak-backup-check/${backup.ct_uuid}`);
  const publicKey = await crypto.subtle.importKey('spki', pak, curve, false, ['verify']);
  if (!await crypto.subtle.verify(signing, publicKey, await crypto.subtle.sign(signing, privateKey, probe), probe))
    throw new Error('the private key in this backup does not belong to its public key');
  return {privateKey, pak, name: backup.name};
}

/// The hex of a SignedAuthorization for `slot` of CT `uuid` (upload: an input; else an output),
/// issued now with a fresh request id and signed with `privateKey`, as cli_io.cpp makes it: what
/// ?authorization= takes.
export async function slotAuthorization({uuid, slot, upload, privateKey, pak}) {
  const authorization = new ProtoWriter()
    .string(1, uuid)
    .string(2, slot)
    .bool(3, upload)
    .bytes(4, randomBytes(16))
    .int64(5, Date.now())
    .finish();
  const raw = new Uint8Array(await crypto.subtle.sign(signing, privateKey,
    concat(utf8(authorizationLabel), authorization)));
  return toHex(new ProtoWriter()
    .bytes(1, authorization)
    .bytes(2, pak)
    .bytes(3, ecdsaDer(raw))
    .finish());
}
