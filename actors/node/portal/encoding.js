// Bytes for the wire: base64 and hex, the few Protobuf encodings a slot authorization needs, and
// the DER form OpenSSL expects of an ECDSA signature (runtime/src/crypto_keys.cpp verifies with
// EVP_DigestVerify, which takes DER; WebCrypto signs as r || s).

const encoder = new TextEncoder();

/// The UTF-8 bytes of `text`.
export function utf8(text) {
  return encoder.encode(text);
}

/// Cryptographically random bytes.
export function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

/// The bytes of `parts` one after the other.
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function toBase64(bytes) {
  let text = '';
  // In chunks: String.fromCharCode takes a limited number of arguments.
  for (let i = 0; i < bytes.length; i += 0x8000)
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/// The bytes of base64 `text`; throws on anything else.
export function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1)
    out[i] = raw.charCodeAt(i);
  return out;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/// The bytes of hex `text`; throws on anything else.
export function fromHex(text) {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(text))
    throw new Error('not hexadecimal');
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1)
    out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// -- Protobuf ----------------------------------------------------------------------------------------

/// A non-negative integer (Number or BigInt) as a base-128 varint.
function varint(value) {
  let v = BigInt(value);
  if (v < 0n)
    throw new RangeError('negative varints are not needed here');
  const out = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/// Writes a Protobuf message as proto3 serializes it deterministically: fields in the order the
/// caller writes them (the order of their numbers), default values (empty, false, 0) left out.
export class ProtoWriter {
  constructor() {
    this.parts = [];
  }

  /// A length-delimited field (bytes, string, embedded message).
  bytes(field, value) {
    if (value.length > 0)
      this.parts.push(varint((field << 3) | 2), varint(value.length), value);
    return this;
  }

  string(field, text) {
    return this.bytes(field, utf8(text));
  }

  bool(field, value) {
    if (value)
      this.parts.push(varint(field << 3), varint(1));
    return this;
  }

  /// An int64 or uint64 field, non-negative here.
  int64(field, value) {
    if (BigInt(value) !== 0n)
      this.parts.push(varint(field << 3), varint(value));
    return this;
  }

  finish() {
    return concat(...this.parts);
  }
}

// -- ECDSA -------------------------------------------------------------------------------------------

/// A big-endian unsigned integer as a minimal DER INTEGER (leading zeros dropped, a zero byte in
/// front when the high bit is set, so it stays positive).
function derInteger(bytes) {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0)
    start += 1;
  let body = bytes.subarray(start);
  if (body[0] & 0x80)
    body = concat(Uint8Array.of(0), body);
  return concat(Uint8Array.of(0x02, body.length), body);
}

/// WebCrypto's P-256 signature (r || s, 64 bytes) as an ECDSA-Sig-Value in DER.
export function ecdsaDer(raw) {
  if (raw.length !== 64)
    throw new Error(`a P-256 signature has 64 bytes, not ${raw.length}`);
  const body = concat(derInteger(raw.subarray(0, 32)), derInteger(raw.subarray(32)));
  return concat(Uint8Array.of(0x30, body.length), body);
}
