import express, { type Router } from 'express';
import { DOCS_HTML, DOCS_SCRIPT } from './docs-page';
import type { OpenApiAggregator } from './openapi-merge';

/** `/docs` (the interactive page), `/docs/docs.js` (its script) and `/docs/openapi.json` (the merged document). */
export function docsRouter(openapi: OpenApiAggregator): Router {
  const router = express.Router();
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  router.get('/docs/docs.js', (_req, res) => {
    res.type('application/javascript').send(DOCS_SCRIPT);
  });
  router.get('/docs/openapi.json', async (req, res) => {
    const { body, etag } = await openapi.serialized();
    res.set('ETag', etag).type('json');
    // req.fresh compares If-None-Match with the ETag just set: a client holding this version gets 304 and no body.
    if (req.fresh) return void res.status(304).end();
    res.send(body);
  });
  return router;
}
