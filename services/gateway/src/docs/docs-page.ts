/**
 * The interactive documentation, self-contained: these machines are offline, so no CDN. The page lists
 * the operations of /docs/openapi.json grouped by tag, each with a "try it" form (path parameters, query,
 * JSON body, bearer token) sent with fetch. The script is a separate same-origin file because helmet's
 * Content-Security-Policy forbids inline scripts.
 */
export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Orrange API</title>
<style>
  body { font: 14px/1.5 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { background: #f60; color: #fff; padding: 12px 24px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; flex: 1; }
  header input { width: 360px; max-width: 100%; padding: 4px; }
  main { padding: 16px 24px; max-width: 1100px; }
  h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 32px; }
  details { background: #fff; border: 1px solid #ddd; border-radius: 4px; margin: 6px 0; }
  summary { cursor: pointer; padding: 6px 10px; font-family: ui-monospace, monospace; }
  .method { display: inline-block; width: 64px; font-weight: bold; }
  .GET { color: #0a7; } .POST { color: #06c; } .PATCH, .PUT { color: #a60; } .DELETE { color: #c22; }
  .summary { color: #666; font-family: system-ui, sans-serif; margin-left: 8px; }
  form { padding: 8px 12px 12px; display: grid; gap: 6px; }
  label { display: grid; grid-template-columns: 140px 1fr; gap: 8px; align-items: center; }
  textarea { font-family: ui-monospace, monospace; min-height: 90px; }
  pre { background: #222; color: #eee; padding: 8px; overflow: auto; max-height: 360px; margin: 0; white-space: pre-wrap; }
  .error { color: #c22; }
</style>
</head>
<body>
<header>
  <h1>Orrange API</h1>
  <input id="token" type="password" placeholder="Bearer access token (optional)" autocomplete="off">
  <a href="/docs/openapi.json" style="color:#fff">openapi.json</a>
</header>
<main id="operations"><p>Loading the API description…</p></main>
<script src="/docs/docs.js"></script>
</body>
</html>
`;

export const DOCS_SCRIPT = `'use strict';
(function () {
  var METHODS = ['get', 'post', 'put', 'patch', 'delete'];
  var root = document.getElementById('operations');

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === 'text') node.textContent = props[key];
      else if (key === 'className') node.className = props[key];
      else node.setAttribute(key, props[key]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function field(labelText, input) {
    return el('label', {}, [el('span', { text: labelText }), input]);
  }

  function tryItForm(method, path, op) {
    var params = (op.parameters || []).filter(function (p) { return p && p.in === 'path'; });
    var inputs = {};
    var rows = params.map(function (p) {
      inputs[p.name] = el('input', { placeholder: p.name, required: 'required' });
      return field(p.name + ' (path)', inputs[p.name]);
    });
    var query = el('input', { placeholder: 'limit=20&cursor=…' });
    rows.push(field('query string', query));
    var body = null;
    if (op.requestBody) {
      body = el('textarea', { placeholder: '{ }' });
      rows.push(field('JSON body', body));
    }
    var output = el('pre', { text: '' });
    var form = el('form', {}, rows.concat([el('button', { type: 'submit', text: 'Send ' + method.toUpperCase() }), output]));
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var url = path.replace(/\\{([^}]+)\\}/g, function (_, name) { return encodeURIComponent(inputs[name] ? inputs[name].value : ''); });
      if (query.value.trim()) url += '?' + query.value.trim().replace(/^\\?/, '');
      var headers = { accept: 'application/json' };
      var token = document.getElementById('token').value.trim();
      if (token) headers.authorization = 'Bearer ' + token;
      var init = { method: method.toUpperCase(), headers: headers };
      if (body && body.value.trim()) {
        try { JSON.parse(body.value); } catch (e) { output.textContent = 'The body is not valid JSON: ' + e.message; return; }
        headers['content-type'] = 'application/json';
        init.body = body.value;
      }
      output.textContent = 'Sending…';
      var started = performance.now();
      fetch(url, init).then(function (res) {
        return res.text().then(function (text) {
          var pretty = text;
          try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
          output.textContent = res.status + ' ' + res.statusText + ' (' + Math.round(performance.now() - started) + ' ms)\\n' +
            'X-Request-Id: ' + (res.headers.get('x-request-id') || '') + '\\n\\n' + pretty;
        });
      }).catch(function (error) { output.textContent = 'Request failed: ' + error.message; });
    });
    return form;
  }

  function render(doc) {
    var groups = {};
    Object.keys(doc.paths || {}).sort().forEach(function (path) {
      METHODS.forEach(function (method) {
        var op = doc.paths[path][method];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || 'other';
        (groups[tag] = groups[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    root.textContent = '';
    if (doc['x-unavailable-services'] && doc['x-unavailable-services'].length) {
      root.appendChild(el('p', { className: 'error', text: 'Unavailable right now: ' + doc['x-unavailable-services'].join(', ') }));
    }
    Object.keys(groups).sort().forEach(function (tag) {
      root.appendChild(el('h2', { text: tag }));
      groups[tag].forEach(function (entry) {
        var summary = el('summary', {}, [
          el('span', { className: 'method ' + entry.method.toUpperCase(), text: entry.method.toUpperCase() }),
          el('span', { text: entry.path }),
          el('span', { className: 'summary', text: entry.op.summary || '' }),
        ]);
        root.appendChild(el('details', {}, [summary, tryItForm(entry.method, entry.path, entry.op)]));
      });
    });
  }

  fetch('/docs/openapi.json').then(function (res) { return res.json(); }).then(render).catch(function (error) {
    root.textContent = '';
    root.appendChild(el('p', { className: 'error', text: 'Could not load the API description: ' + error.message }));
  });
})();
`;
