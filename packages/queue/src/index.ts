export * from './contracts';
export {
  enqueueEvent,
  enqueueEvents,
  outgoing,
  claimInboxMany,
  queryTogether,
  inboxConfirmedFunctionSql,
  OUTBOX_TABLES_SQL,
  type EnqueueOptions,
  type OutgoingEvent,
} from './outbox';
export { OutboxRelay, JOB_DEFAULTS, type RelayOptions, type Delivery, type OutboxRow } from './relay';
export {
  OutboxRedelivery,
  redeliverySweepIntervalMs,
  REDELIVERY_BATCH_MAX,
  REDELIVER_AGE_MAX_MS,
  type RedeliveryOptions,
} from './redelivery';
export {
  EventConsumer,
  type EventHandler,
  type EventHandlers,
  type BulkEventHandler,
  type BulkEventHandlers,
  type ConsumerOptions,
  type ConsumerTransaction,
  type QueueConsumer,
  type ApplyOutcome,
} from './consumer';
export { createRedis } from './redis';
export { PermanentFailure } from './permanent-failure';
export {
  adjustSellHoldCall,
  holdAdjustmentSchema,
  type HoldAdjustment,
  placeSellHoldsCall,
  placeSellHoldsExpression,
  sellHoldsJson,
  buyerStandingCall,
  buyerRoomExpression,
  releaseSellHoldCall,
  openTradesExpression,
  tradeOpeningsJson,
  ledgerOutcomes,
  sellHoldSchema,
  holdReleaseSchema,
  tradeOpeningSchema,
  type SellHold,
  type HoldRelease,
  type TradeOpening,
  type LedgerOutcome,
  type FunctionCall,
} from './trade-functions';
