import { openApiDocument } from '@orrange/http';

/** The trade-execution service's part of the public API; the gateway merges it into /docs/openapi.json. */
export const openapi = openApiDocument('Orrange trade-execution service', {});
