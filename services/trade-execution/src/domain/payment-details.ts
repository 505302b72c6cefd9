import { AS_SYSTEM, asUser, type Database } from '@orrange/db';
import { hasRole, type Identity } from '@orrange/http';
import { openPaymentMethod, type EncryptionKeyring } from '@orrange/secrets';
import { findPaymentDetails, recordPaymentDetailsRead } from '../data/payment-details.repository';
import type { Trade } from './trade';
import type { TradeState } from './trade-state-machine';

/** API.md `paymentDetails`: the SELL side's saved method as it was when the trade opened. */
export interface PaymentDetailsView {
  type: string;
  label: string;
  /** Free text, or a flat object of string fields (IBAN, holder name, ...), as the seller saved it. */
  details: unknown;
}

/** While the parties need them to pay and to argue about the payment. */
export const PARTY_VISIBLE_STATES: readonly TradeState[] = ['AWAITING_PAYMENT', 'PAID', 'DISPUTED'];

export type DetailsReader = 'seller' | 'buyer' | 'arbitrator' | 'admin';

/**
 * Who reads a trade's payment details: the buyer and the seller while the trade is AWAITING_PAYMENT, PAID or
 * DISPUTED; the assigned arbitrator and admins always. Anyone else, or a party after the trade ended: nobody.
 */
export function detailsReader(
  trade: Pick<Trade, 'buyerId' | 'sellerId' | 'arbitratorId' | 'status'>,
  who: Identity,
): DetailsReader | undefined {
  const partyMaySee = PARTY_VISIBLE_STATES.includes(trade.status);
  if (who.userId === trade.sellerId && partyMaySee) return 'seller';
  if (who.userId === trade.buyerId && partyMaySee) return 'buyer';
  if (hasRole(who, 'admin')) return 'admin';
  if (trade.arbitratorId !== null && who.userId === trade.arbitratorId && hasRole(who, 'arbitrator'))
    return 'arbitrator';
  return undefined;
}

/**
 * The payment details `who` may see on GET /trades/:id: undefined when they may not (the field is left out), null
 * when the seller had no fitting saved method. Every read by someone other than the owner is audited first: no
 * details leave without their read recorded.
 */
export async function paymentDetailsFor(
  deps: { db: Database; keyring: EncryptionKeyring },
  trade: Trade,
  who: Identity,
  requestId: string | null,
): Promise<PaymentDetailsView | null | undefined> {
  const reader = detailsReader(trade, who);
  if (!reader) return undefined;
  // Row-level security lets the trade's parties and arbitrator read them; an admin reads any trade's as the system.
  const db = deps.db.withSettings(reader === 'admin' ? AS_SYSTEM : asUser(who.userId)).primary;
  const stored = await findPaymentDetails(db, trade.id);
  if (!stored) return null;
  if (reader !== 'seller')
    await recordPaymentDetailsRead(db, {
      tradeId: trade.id,
      ownerId: stored.ownerId,
      readerId: who.userId,
      readerRole: reader,
      requestId,
    });
  return {
    type: stored.type,
    label: stored.label,
    details: openPaymentMethod(deps.keyring, stored, stored.ownerId, stored.methodId),
  };
}
