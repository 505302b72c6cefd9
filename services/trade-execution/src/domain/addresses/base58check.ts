import { createHash } from 'node:crypto';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
/** Longer strings are no address of ours, and BigInt work on them is wasted. */
const BASE58_LENGTH_MAX = 64;
const CHECKSUM_BYTES = 4;

const doubleSha256 = (bytes: Uint8Array) =>
  createHash('sha256').update(createHash('sha256').update(bytes).digest()).digest();

/** The payload of a Base58Check string (version byte first), or null when it is not one or its checksum is wrong. */
export function base58CheckDecode(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > BASE58_LENGTH_MAX) return null;
  let value = 0n;
  for (const c of text) {
    const digit = ALPHABET.indexOf(c);
    if (digit < 0) return null;
    value = value * 58n + BigInt(digit);
  }
  const hex = value === 0n ? '' : value.toString(16);
  const body = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  const leadingZeros = text.length - text.replace(/^1+/, '').length;
  const bytes = Buffer.concat([Buffer.alloc(leadingZeros), body]);
  if (bytes.length <= CHECKSUM_BYTES) return null;
  const payload = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
  const checksum = bytes.subarray(bytes.length - CHECKSUM_BYTES);
  return doubleSha256(payload).subarray(0, CHECKSUM_BYTES).equals(checksum) ? Uint8Array.from(payload) : null;
}

export function base58CheckEncode(payload: Uint8Array): string {
  const bytes = Buffer.concat([payload, doubleSha256(payload).subarray(0, CHECKSUM_BYTES)]);
  let value = BigInt(`0x${bytes.toString('hex') || '0'}`);
  let out = '';
  while (value > 0n) {
    out = ALPHABET[Number(value % 58n)]! + out;
    value /= 58n;
  }
  const leadingZeros = bytes.length - bytes.toString('hex').replace(/^(00)+/, '').length / 2;
  return '1'.repeat(leadingZeros) + out;
}
