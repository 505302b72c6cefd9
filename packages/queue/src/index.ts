export * from './contracts';
export { enqueueEvent, enqueueEvents, outgoing, claimInboxMany, queryTogether, OUTBOX_TABLES_SQL, type SqlExecutor, type EnqueueOptions, type OutgoingEvent } from './outbox';
export { OutboxRelay, JOB_DEFAULTS, type RelayOptions } from './relay';
export { EventConsumer, type EventHandler, type EventHandlers, type BulkEventHandler, type BulkEventHandlers, type ConsumerOptions, type ApplyOutcome } from './consumer';
export { createRedis } from './redis';
export { placeSellHoldsCall, releaseSellHoldCall, openTradesExpression, tradeOpeningsJson, ledgerOutcomes, sellHoldSchema, holdReleaseSchema, tradeOpeningSchema, type SellHold, type HoldRelease, type TradeOpening, type LedgerOutcome, type FunctionCall } from './trade-functions';
