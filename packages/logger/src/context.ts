import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line and error answer should know about the work in progress. */
export interface RequestContext {
  requestId?: string;
  userId?: string;
  jobId?: string;
  eventId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

export function currentContext(): RequestContext {
  return storage.getStore() ?? {};
}

/** Adds fields to the current context in place (e.g. the user id once authentication has run). */
export function enrichContext(fields: RequestContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, fields);
}
