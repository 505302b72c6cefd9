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
  router.get('/docs/openapi.json', async (_req, res) => {
    res.json(await openapi.document());
  });
  return router;
}
