export { availableCores, CLUSTER_WORKERS_MAX, clusterMetrics, restartDelayMs, runClustered, type ClusterLogger, type ClusterOptions } from './cluster';
export { createRuntime, serve, type Runtime, type RuntimeOptions } from './runtime';
export { Sweeper, type SweeperOptions } from './sweeper';
