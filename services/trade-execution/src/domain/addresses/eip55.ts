import { keccak_256 } from '@noble/hashes/sha3';

/**
 * The EIP-55 spelling of a 20-byte EVM address: each hex letter is upper case where the matching nibble of the
 * keccak-256 of the lower-case hex is 8 or more. A typo changes the pattern, so a mixed-case address checks itself.
 */
export function toChecksumAddress(bytesOrHex: Uint8Array | string): string {
  const hex =
    typeof bytesOrHex === 'string'
      ? bytesOrHex.toLowerCase().replace(/^0x/, '')
      : Buffer.from(bytesOrHex).toString('hex');
  if (!/^[0-9a-f]{40}$/.test(hex)) throw new Error('an EVM address is 20 bytes');
  const hash = Buffer.from(keccak_256(hex)).toString('hex');
  return `0x${[...hex].map((c, i) => (parseInt(hash[i]!, 16) >= 8 ? c.toUpperCase() : c)).join('')}`;
}

/** `0x` + 40 hex digits; all lower or all upper case carries no checksum, mixed case must be EIP-55's. */
export function isEvmAddress(address: string): boolean {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) return false;
  const hex = address.slice(2);
  if (hex === hex.toLowerCase() || hex === hex.toUpperCase()) return true;
  return toChecksumAddress(hex) === address;
}
