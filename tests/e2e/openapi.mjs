// Every answer the end-to-end tests receive from the service is held to the
// OpenAPI document (core/api/openapi.json) with ajv: the operation its
// method and path name must exist, list the status, and describe the body.
// A mismatch throws, so the test that made the request fails. A path the
// document lacks passes only when the service agrees it does not exist
// (404 not_found), and a method it lacks only as 405; the body is the error
// envelope either way (on a path nginx serves itself, its bare 403 to a
// publish stands for the 405). Only the HTTPS origins of the stack are the API: the
// plain HTTP port answers redirects, which are nginx's and not the API's.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(ROOT, 'tests/tools/package.json'));
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

export const DOC_PATH = join(ROOT, 'core/api/openapi.json');
export const doc = JSON.parse(readFileSync(DOC_PATH, 'utf8'));
const PREFIX = doc.servers[0].url;              // /api/payment
const DOC_ID = 'https://payments.invalid/openapi.json';

// The document is one schema resource, so its `#/components/...` references
// resolve as they are written; a response schema is compiled by its pointer.
// Not strict: the document's own keywords (openapi, paths, …) sit beside the schemas.
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, DOC_ID);

const pointer = (...parts) => parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
const deref = (o) => {
  while (o && o.$ref) o = o.$ref.slice(2).split('/').map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~')).reduce((a, k) => a[k], doc);
  return o;
};

// A path parameter matches what its schema allows, as the router's shapes do
// (a UUID, digits), so `/nonsense` is not a payment id.
function paramRegex(schema) {
  const s = deref(schema) ?? {};
  if (s.format === 'uuid') return '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
  if (s.pattern) return `(?:${s.pattern.replace(/^\^/, '').replace(/\$$/, '')})`;
  return '[^/]+';
}

const templates = Object.entries(doc.paths).map(([tpl, item]) => {
  const params = {};
  for (const op of Object.values(item)) {
    for (const p of (op.parameters ?? []).map(deref)) if (p.in === 'path') params[p.name] = p.schema;
  }
  const re = new RegExp('^' + tpl.replace(/\{([^}]+)\}/g, (_, name) => paramRegex(params[name])) + '$');
  return { tpl, item, re, literal: !tpl.includes('{') };
}).sort((a, b) => Number(b.literal) - Number(a.literal));

const errorSchema = ajv.getSchema(`${DOC_ID}#/components/schemas/Error`);

function findTemplate(path) {
  for (const t of templates) if (t.re.test(path)) return t;
  return null;
}

class ContractError extends Error {}

function checkJson(where, validate, text) {
  let body;
  try { body = JSON.parse(text); } catch { throw new ContractError(`${where}: the body is not JSON: ${text.slice(0, 200)}`); }
  if (!validate(body)) {
    const errs = validate.errors.slice(0, 5).map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`);
    throw new ContractError(`${where}: the body does not match the document: ${errs.join('; ')}\n  body: ${text.slice(0, 600)}`);
  }
  checkAmounts(where, validate.schema, text);
}

// --- Amounts: the number and its exact string ------------------------------
// The API's rule: a property whose schema is the Decimal component (a JSON
// number with the stored digits) has a sibling `<name>Decimal`, a string of
// exactly those digits. The number's digits are read from the answer's text,
// never from a parsed float: each number of the (already valid) JSON is
// replaced by a tagged string of its source text before parsing.
export const DECIMAL_REF = '#/components/schemas/Decimal';
const NUMBER_TAG = '\u0000number:';
const TOKENS = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/g;
const numberText = (v) => (typeof v === 'string' && v.startsWith(NUMBER_TAG) ? v.slice(NUMBER_TAG.length) : null);

// The schema and everything it stands for through $ref, allOf, oneOf, anyOf;
// `decimal` when one of them is the Decimal component.
function facets(schema) {
  const list = [];
  let decimal = false;
  const visit = (s) => {
    if (!s || typeof s !== 'object' || list.includes(s)) return;
    list.push(s);
    if (s.$ref === DECIMAL_REF) decimal = true;
    if (s.$ref) visit(deref({ $ref: s.$ref }));
    for (const k of ['allOf', 'oneOf', 'anyOf']) for (const b of s[k] ?? []) visit(b);
  };
  visit(schema);
  return { list, decimal };
}

function walkAmounts(schema, value, at, faults) {
  const { list } = facets(schema);
  if (Array.isArray(value)) {
    value.forEach((v, i) => list.forEach((s) => s.items && walkAmounts(s.items, v, `${at}[${i}]`, faults)));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [name, v] of Object.entries(value)) {
    const subs = list.flatMap((s) => [s.properties?.[name],
      typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined]).filter(Boolean);
    const text = numberText(v);
    if (text !== null && subs.some((s) => facets(s).decimal)) {
      const sibling = value[`${name}Decimal`];
      if (typeof sibling !== 'string') faults.add(`${at}.${name} (${text}) has no string ${name}Decimal`);
      else if (sibling !== text) faults.add(`${at}.${name}Decimal is "${sibling}", the number is ${text}`);
    }
    for (const s of subs) walkAmounts(s, v, `${at}.${name}`, faults);
  }
}

export function checkAmounts(where, schema, text) {
  const tagged = JSON.parse(text.replace(TOKENS, (t) => (t[0] === '"' ? t : JSON.stringify(NUMBER_TAG + t))));
  const faults = new Set();
  walkAmounts(schema, tagged, '(body)', faults);
  if (faults.size) throw new ContractError(`${where}: an amount without its exact string: ${[...faults].slice(0, 5).join('; ')}\n  body: ${text.slice(0, 600)}`);
}

// Throws a ContractError when the answer is not what the document says.
// `url` may be absolute or a path with its query; contentType may be null.
export function checkResponse(method, url, status, contentType, text) {
  const u = new URL(url, 'https://stack.invalid');
  let path = u.pathname;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const where = `${method} ${u.pathname} → ${status}`;
  const rel = path === PREFIX ? '/' : path.startsWith(PREFIX + '/') ? path.slice(PREFIX.length) : null;
  const t = rel === null ? null : findTemplate(rel);
  if (t === null) {
    if (status !== 404) throw new ContractError(`${where}: the document has no such path`);
    checkJson(where, errorSchema, text);
    return;
  }
  const op = t.item[method.toLowerCase() === 'head' ? 'get' : method.toLowerCase()];
  if (!op) {
    // nginx's pub/sub refuses a publish on a stream it serves with its own
    // 403 (an empty body): not the service's answer, and nothing is published.
    const nginx = Object.values(t.item).some((o) => o['x-served-by'] === 'nginx');
    if (nginx && status === 403) return;
    if (status !== 405) throw new ContractError(`${where}: the document has no ${method} on ${t.tpl}`);
    checkJson(where, errorSchema, text);
    return;
  }
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => op.responses[k]);
  if (!key) throw new ContractError(`${where}: status ${status} is not documented for ${method} ${t.tpl}`);
  const response = deref(op.responses[key]);
  if (!response.content) {
    if (text.length) throw new ContractError(`${where}: the document says no body, got ${text.slice(0, 100)}`);
    return;
  }
  const base = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const media = Object.keys(response.content).find((m) => m.split(';')[0].trim().toLowerCase() === base);
  if (!media) throw new ContractError(`${where}: content type ${contentType} is not documented (${Object.keys(response.content).join(', ')})`);
  if (base !== 'application/json' || method === 'HEAD') return;
  const ptr = op.responses[key].$ref
    ? op.responses[key].$ref.slice(1) + '/' + pointer('content', media, 'schema')
    : '/' + pointer('paths', t.tpl, method.toLowerCase(), 'responses', key, 'content', media, 'schema');
  checkJson(where, ajv.getSchema(`${DOC_ID}#${ptr}`), text);
}

// nginx's answers to requests that never reach a route (a malformed request,
// a URI or headers too large): only the envelope is the document's.
export function checkNginxError(what, status, text) {
  checkJson(`${what} → ${status}`, errorSchema, text);
}
