import express, { type Router } from 'express';
import { DOCS_HTML, DOCS_SCRIPT, RENDERER_ASSETS_PATH, rendererFile } from './docs-page';
import type { OpenApiAggregator } from './openapi-merge';

/** The renderer's files carry their package version in the URL: a browser keeps them until the next upgrade. */
const RENDERER_MAX_AGE_MS = 365 * 24 * 3600 * 1000;

/**
 * `/docs` (the page), `/docs/docs.js` (what starts the renderer on the document), the renderer's own files under
 * `/docs/assets/<version>/`, and `/docs/openapi.json` (the merged document).
 */
export function docsRouter(openapi: OpenApiAggregator): Router {
  const router = express.Router();
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_HTML);
  });
  router.get('/docs/docs.js', (_req, res) => {
    res.type('application/javascript').send(DOCS_SCRIPT);
  });
  router.get(`${RENDERER_ASSETS_PATH}/:name`, (req, res, next) => {
    const file = rendererFile(req.params.name);
    // Any other name (or another version's URL) falls through to the gateway's 404.
    if (!file) return next();
    res.sendFile(file.name, { root: file.root, maxAge: RENDERER_MAX_AGE_MS, immutable: true });
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
