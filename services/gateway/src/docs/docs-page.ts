import path from 'node:path';

/**
 * The interactive documentation is Swagger UI, served from its npm package (swagger-ui-dist) by the gateway
 * itself: these machines are offline, so no CDN. Its files are served under their package version, so a
 * browser may keep them for a year (`immutable`) and an upgrade changes their URLs.
 */
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const SWAGGER_UI_VERSION: string = (require('swagger-ui-dist/package.json') as { version: string }).version;

export const RENDERER_ASSETS_PATH = `/docs/assets/${SWAGGER_UI_VERSION}`;

/** The package's files the page needs, and nothing else of its folder (its own index.html points at a demo API). */
const RENDERER_FILES = new Set(['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png']);

/**
 * Where the package's file behind `/docs/assets/<version>/<name>` is, as express's sendFile takes it (a root and a
 * name within it: the root, inside pnpm's `.pnpm` folder, would be refused as a dotfile path), or undefined for any
 * other name.
 */
export function rendererFile(name: string): { root: string; name: string } | undefined {
  return RENDERER_FILES.has(name) ? { root: SWAGGER_UI_DIR, name } : undefined;
}

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Orrange API</title>
<link rel="icon" type="image/png" href="${RENDERER_ASSETS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="${RENDERER_ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${RENDERER_ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
`;

/**
 * Starts Swagger UI on the merged document. A separate same-origin file because helmet's Content-Security-Policy
 * forbids inline scripts; `validatorUrl: null` keeps Swagger UI from sending the document to its online validator.
 */
export const DOCS_SCRIPT = `'use strict';
window.ui = SwaggerUIBundle({
  url: '/docs/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;
