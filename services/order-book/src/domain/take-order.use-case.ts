import { randomUUID } from 'node:crypto';
import {
  badRequest,
  claimKeysStatement,
  conflict,
  IdempotencyKeyTaken,
  jsonAnswer,
  notFound,
  storeAnswersWithCommit,
  wasClaimed,
} from '@orrange/http';
import type { Asset } from '@orrange/money';
import {
  lockAndLoadOrder,
  standingOf,
  takeStandingStatement,
  writeMatches,
  type MatchRecord,
} from '../data/order.repository';
import { buyerLimitsOf, buyerRefusal, tradesOpenMax } from './limits';
import { maxFillAt, respectsMinFiat, respectsMinFill } from './matching-engine';
import { fillView, tradeOpening } from './match-records';
import { LIVE_STATUSES, toMatchable, type FillView } from './order';
import type { OrderBookDeps } from './order-book.deps';
import type { KeyRecord } from './order-batcher';

export interface TakeOrderInput {
  userId: string;
  orderId: string;
  /** The amount in the ad's asset's units: the request's decimal is read once the ad (and so its asset) is known. */
  amountFor: (asset: Asset) => bigint;
  paymentMethod: string;
  /** The taker has the merchant role (their limits as a buyer). */
  merchant: boolean;
}

export interface Taken {
  tradeId: string;
  fill: FillView;
}

/**
 * Takes an ad directly. Under the ad's market lock and row lock: the ad must rest in the book, belong to
 * someone else, accept the payment method, and have the amount left (at least its minFill unless the whole
 * remainder) within its fiat limits. Taking a SELL ad makes the taker the buyer (the crypto comes from the ad's
 * hold); taking a BUY ad makes the taker the seller (the crypto comes from the taker's available balance). Either
 * way the buyer must be free to open a trade (not suspended, under their open-trade limit). The trade opens with
 * its escrow locked in the same transaction (trade-execution's open_trades).
 */
export async function takeOrder(deps: OrderBookDeps, input: TakeOrderInput, key?: KeyRecord<Taken>): Promise<Taken> {
  const taken = await deps.db.transaction(
    async (tx) => {
      const standing = takeStandingStatement(input.userId, input.orderId, deps.limits.buyerCancelsMax);
      const locked = await lockAndLoadOrder(tx, input.orderId, key ? [claimKeysStatement([key.claim])] : [], [
        standing,
      ]);
      if (key && !wasClaimed(locked.ahead[0]!, key.claim)) throw new IdempotencyKeyTaken(key.claim);
      const ad = locked.order;
      if (!ad) throw notFound('ORDER.NOT_FOUND', 'No such order.');
      const amount = input.amountFor(ad.asset);
      if (!LIVE_STATUSES.includes(ad.status) || ad.paused)
        throw conflict('ORDER.INVALID_STATE', `The order is ${ad.paused ? 'paused' : ad.status} and cannot be taken.`);
      if (ad.userId === input.userId) throw conflict('ORDER.SELF_TRADE', 'You cannot take your own order.');
      if (!ad.paymentMethods.includes(input.paymentMethod))
        throw badRequest('ORDER.PAYMENT_METHOD_NOT_ACCEPTED', 'The order does not accept this payment method.');
      if (amount > ad.remaining)
        throw conflict('ORDER.AMOUNT_UNAVAILABLE', 'The order has less than this amount left.');
      if (!respectsMinFill(ad, amount))
        throw badRequest('ORDER.BELOW_MIN_FILL', "The amount is below the order's minimum fill.");
      const matchable = toMatchable(ad);
      if (!respectsMinFiat(matchable, amount, ad.price))
        throw badRequest(
          'ORDER.BELOW_MIN_FIAT',
          "The amount is worth less than the order's minimum per trade (minFiat).",
        );
      if (amount > maxFillAt(matchable, ad.price))
        throw badRequest(
          'ORDER.ABOVE_MAX_FIAT',
          "The amount is worth more than the order's maximum per trade (maxFiat).",
        );
      const takerBuys = ad.side === 'SELL';
      const buyer = takerBuys
        ? { id: input.userId, merchant: input.merchant }
        : { id: ad.userId, merchant: ad.merchant };
      const refusal = buyerRefusal(standingOf(locked.behind[0]!, buyer.id), tradesOpenMax(deps.limits, buyer.merchant));
      // The taker hears why they cannot buy; an ad whose owner may not buy now is simply not available.
      if (refusal && takerBuys) throw refusal;
      if (refusal) throw conflict('ORDER.INVALID_STATE', "The order's owner cannot open a trade now.");
      const match: MatchRecord = {
        id: randomUUID(),
        tradeId: randomUUID(),
        makerOrderId: ad.id,
        takerOrderId: null,
        buyOrderId: takerBuys ? null : ad.id,
        sellOrderId: takerBuys ? ad.id : null,
        buyerId: takerBuys ? input.userId : ad.userId,
        sellerId: takerBuys ? ad.userId : input.userId,
        asset: ad.asset,
        fiatCurrency: ad.fiatCurrency,
        price: ad.price,
        amount,
        paymentMethod: input.paymentMethod,
        paymentWindowMinutes: ad.paymentWindowMinutes,
        sellerFunding: takerBuys ? 'HOLD' : 'AVAILABLE',
        paymentMethodIds: takerBuys ? ad.paymentMethodIds : [],
        buyerMerchant: buyer.merchant,
      };
      const written = await writeMatches(
        tx,
        ad,
        { kind: 'none' },
        [match],
        [tradeOpening(match, buyerLimitsOf(deps.limits))],
        { tradesMustOpen: false },
      );
      const [funded] = written.trades;
      // A seller taking a BUY ad pays from AVAILABLE, which may not cover it: the whole take rolls back.
      if (funded === 'INSUFFICIENT' && !takerBuys)
        throw conflict('WALLET.INSUFFICIENT_FUNDS', 'Your available balance does not cover this amount.');
      if (funded !== 'OK') throw new Error(`ledger invariant: the trade of take ${match.id} answered ${funded}`);
      const result: Taken = { tradeId: match.tradeId, fill: fillView(match, ad.id) };
      if (key) storeAnswersWithCommit(tx, [jsonAnswer(key.claim, 201, key.answer(result))]);
      return { result, ad, sequence: written.sequence };
    },
    { retryable: true },
  );
  deps.bookChanged(taken.ad.asset, taken.ad.fiatCurrency, taken.sequence);
  deps.tradesOpened(taken.ad.asset, 1);
  return taken.result;
}
