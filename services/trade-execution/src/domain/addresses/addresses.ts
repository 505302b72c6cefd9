import type { Asset } from '@orrange/money';
import { base58CheckDecode } from './base58check';
import { segwitDecode, segwitEncode } from './bech32';
import { isEvmAddress, toChecksumAddress } from './eip55';

export const BTC_NETWORKS = ['mainnet', 'testnet', 'regtest'] as const;
export type BtcNetwork = (typeof BTC_NETWORKS)[number];
export const EVM_NETWORKS = ['mainnet', 'sepolia'] as const;
export type EvmNetwork = (typeof EVM_NETWORKS)[number];

export interface Networks {
  btc: BtcNetwork;
  evm: EvmNetwork;
}

/** Per BTC network: the bech32 human-readable part and the Base58Check version bytes of P2PKH and P2SH. */
const BTC_PARAMS: Record<BtcNetwork, { hrp: string; p2pkh: number; p2sh: number }> = {
  mainnet: { hrp: 'bc', p2pkh: 0x00, p2sh: 0x05 },
  testnet: { hrp: 'tb', p2pkh: 0x6f, p2sh: 0xc4 },
  regtest: { hrp: 'bcrt', p2pkh: 0x6f, p2sh: 0xc4 },
};

const HASH160_BYTES = 20;

/** The chain an asset moves on, as `GET /wallet/deposit-address` names it (USDT and USDC as ERC-20 tokens). */
export function networkOf(asset: Asset, networks: Networks): string {
  if (asset === 'BTC') return `bitcoin-${networks.btc}`;
  return `ethereum-${networks.evm}`;
}

/**
 * Whether `address` can receive `asset` on the configured network: BTC as a segwit address of the network's
 * bech32 prefix (v0 bech32, v1+ bech32m) or a Base58Check P2PKH/P2SH address of its version bytes; ETH, USDT,
 * USDC as an EVM address (EIP-55 checksum when mixed case). A corrupted checksum is never a valid address.
 */
export function isValidAddress(asset: Asset, address: string, networks: Networks): boolean {
  if (asset !== 'BTC') return isEvmAddress(address);
  const params = BTC_PARAMS[networks.btc];
  if (address.toLowerCase().startsWith(`${params.hrp}1`)) return segwitDecode(params.hrp, address) !== null;
  const payload = base58CheckDecode(address);
  return (
    payload !== null &&
    payload.length === 1 + HASH160_BYTES &&
    (payload[0] === params.p2pkh || payload[0] === params.p2sh)
  );
}

/**
 * The address format of each asset for 20 bytes of key material: a P2WPKH segwit address (`bc1q…`, `tb1q…`)
 * for BTC, an EIP-55 address for the EVM assets. The simulated custody derives its deposit addresses with it.
 */
export function formatAddress(asset: Asset, keyHash: Uint8Array, networks: Networks): string {
  if (keyHash.length !== HASH160_BYTES) throw new Error('an address is made of 20 bytes');
  if (asset === 'BTC') return segwitEncode(BTC_PARAMS[networks.btc].hrp, 0, keyHash);
  return toChecksumAddress(keyHash);
}
