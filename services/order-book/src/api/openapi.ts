import { openApiDocument } from '@orrange/http';

/** The order-book service's part of the public API; the gateway merges it into /docs/openapi.json. */
export const openapi = openApiDocument('Orrange order-book service', {});
