import type { Asset } from '@orrange/money';

/** A user's deposit address for an asset on a network. */
export interface DepositAddress {
  asset: Asset;
  network: string;
  address: string;
}

/** A deposit as the domain sees it: a custody output (address, txid, index) or a faucet credit; amount in units. */
export interface Deposit {
  id: string;
  userId: string;
  asset: Asset;
  amount: bigint;
  address: string | null;
  txid: string | null;
  index: number | null;
  confirmations: number;
  status: 'PENDING' | 'CREDITED';
  createdAt: Date;
}
