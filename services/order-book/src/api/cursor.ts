import { z } from 'zod';
import { keyset } from '@orrange/http';
import { formatPrice, type Order } from '../domain/order';

/** A market's open orders, best price first: by (side, price, seq), as listOpenOrders reads them. */
export const bestPriceFirst = keyset(
  z
    .object({
      side: z.enum(['BUY', 'SELL']),
      price: z.string().regex(/^\d{1,20}(\.\d{1,2})?$/),
      seq: z.string().regex(/^\d{1,19}$/),
    })
    .strict(),
  (order: Order) => ({ side: order.side, price: formatPrice(order.price), seq: order.seq.toString() }),
);

/** The caller's orders, newest first: by seq, as listUserOrders reads them. */
export const newestFirst = keyset(z.object({ seq: z.string().regex(/^\d{1,19}$/) }).strict(), (order: Order) => ({
  seq: order.seq.toString(),
}));
