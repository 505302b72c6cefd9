/**
 * Bech32 (BIP-173) and bech32m (BIP-350) strings, and the segwit addresses written with them. Small enough to
 * own: the custody adapter derives BTC deposit addresses with it and withdrawals are validated with it.
 */
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
const CHECKSUM_CONSTANT = { bech32: 1, bech32m: 0x2bc830a3 } as const;
/** BIP-173's limit on the whole string. */
const BECH32_LENGTH_MAX = 90;
const CHECKSUM_LENGTH = 6;

export type Bech32Encoding = keyof typeof CHECKSUM_CONSTANT;

function polymod(values: number[]): number {
  let checksum = 1;
  for (const value of values) {
    const top = checksum >>> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ value;
    for (let i = 0; i < 5; i += 1) if ((top >>> i) & 1) checksum ^= GENERATOR[i]!;
  }
  return checksum >>> 0;
}

function expandHrp(hrp: string): number[] {
  const codes = [...hrp].map((c) => c.charCodeAt(0));
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)];
}

export function bech32Encode(hrp: string, data: number[], encoding: Bech32Encoding): string {
  const mod = polymod([...expandHrp(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ CHECKSUM_CONSTANT[encoding];
  const checksum = Array.from({ length: CHECKSUM_LENGTH }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...data, ...checksum].map((d) => CHARSET[d]).join('')}`;
}

/** The parts of a bech32 or bech32m string, or null when it is not one (bad checksum, mixed case, bad characters). */
export function bech32Decode(text: string): { hrp: string; data: number[]; encoding: Bech32Encoding } | null {
  if (text.length > BECH32_LENGTH_MAX || (text !== text.toLowerCase() && text !== text.toUpperCase())) return null;
  const lower = text.toLowerCase();
  const separator = lower.lastIndexOf('1');
  if (separator < 1 || separator + CHECKSUM_LENGTH + 1 > lower.length) return null;
  const hrp = lower.slice(0, separator);
  if ([...hrp].some((c) => c.charCodeAt(0) < 33 || c.charCodeAt(0) > 126)) return null;
  const data = [...lower.slice(separator + 1)].map((c) => CHARSET.indexOf(c));
  if (data.some((d) => d < 0)) return null;
  const residue = polymod([...expandHrp(hrp), ...data]);
  const encoding =
    residue === CHECKSUM_CONSTANT.bech32 ? 'bech32' : residue === CHECKSUM_CONSTANT.bech32m ? 'bech32m' : null;
  if (!encoding) return null;
  return { hrp, data: data.slice(0, -CHECKSUM_LENGTH), encoding };
}

/** Regroups bits (8 → 5 to encode, 5 → 8 to decode); null when decoding leaves non-zero padding. */
function convertBits(data: number[], from: number, to: number, pad: boolean): number[] | null {
  let accumulator = 0;
  let bits = 0;
  const out: number[] = [];
  const mask = (1 << to) - 1;
  for (const value of data) {
    accumulator = (accumulator << from) | value;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((accumulator >>> bits) & mask);
    }
    accumulator &= (1 << bits) - 1;
  }
  if (pad && bits > 0) out.push((accumulator << (to - bits)) & mask);
  else if (!pad && (bits >= from || ((accumulator << (to - bits)) & mask) !== 0)) return null;
  return out;
}

/** A segwit address: witness version 0 in bech32, versions 1–16 in bech32m (BIP-350). */
export function segwitEncode(hrp: string, version: number, program: Uint8Array): string {
  return bech32Encode(hrp, [version, ...convertBits([...program], 8, 5, true)!], version === 0 ? 'bech32' : 'bech32m');
}

/** The witness version and program of a segwit address of `hrp`, or null when it is not a valid one. */
export function segwitDecode(hrp: string, address: string): { version: number; program: Uint8Array } | null {
  const decoded = bech32Decode(address);
  if (!decoded || decoded.hrp !== hrp || decoded.data.length < 1) return null;
  const [version, ...rest] = decoded.data as [number, ...number[]];
  if (version > 16 || decoded.encoding !== (version === 0 ? 'bech32' : 'bech32m')) return null;
  const program = convertBits(rest, 5, 8, false);
  if (!program || program.length < 2 || program.length > 40) return null;
  if (version === 0 && program.length !== 20 && program.length !== 32) return null;
  return { version, program: Uint8Array.from(program) };
}
