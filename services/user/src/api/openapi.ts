import { openApiDocument } from '@orrange/http';

/** The user service's part of the public API; the gateway merges it into /docs/openapi.json. */
export const openapi = openApiDocument('Orrange user service', {});
