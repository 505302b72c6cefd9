export {
  availableCores,
  CLUSTER_WORKERS_MAX,
  clusterMetrics,
  restartDelayMs,
  runClustered,
  type ClusterLogger,
  type ClusterOptions,
} from './cluster';
export {
  createRuntime,
  createRuntimeApp,
  serve,
  type ConsumeOptions,
  type Runtime,
  type RuntimeOptions,
  type Service,
} from './runtime';
export {
  liveKeys,
  LivePublisher,
  publishLiveEvents,
  toEach,
  LIVE_RETENTION_MS,
  type LiveEvent,
  type LiveEventType,
} from './live-events';
export {
  Sweeper,
  dueItemsSweeper,
  FAILED_ITEM_BACKOFF_MS,
  FAILED_ITEMS_MAX,
  type SweeperOptions,
  type DueItemsSweepOptions,
} from './sweeper';
