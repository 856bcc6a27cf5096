// The mutant list (tests/mutate/mutants) read and applied for tests/mutate/run.
//
//   node mutants.mjs check LIST                 the list is well formed (exit 1 with the reasons)
//   node mutants.mjs ids LIST [PATTERN...]      ids in list order, those matching a pattern (* globs)
//   node mutants.mjs get LIST ID FIELD          one field's value ("" when absent)
//   node mutants.mjs apply LIST ID TREE         plants the mutant in TREE (a scratch copy):
//                                               exit 0 applied, 3 stale (the fragment is not in the
//                                               file, or the file is gone), 4 ambiguous (more than once)
//
// An entry starts with [id] on a line of its own; then `key: value` lines.
// A line starting with whitespace continues the previous value (prose only).
// `find` and `replace` are exact one-line fragments of code, compared
// literally, never as patterns.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const REQUIRED = ['file', 'find', 'replace', 'breaks'];
const KNOWN = new Set([...REQUIRED, 'tests', 'equivalent']);

function parse(text) {
  const entries = [];
  const errors = [];
  let cur = null, last = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\s+$/, '');
    const where = `line ${i + 1}`;
    if (line === '' || line.startsWith('#')) { last = null; return; }
    let m;
    if ((m = /^\[([a-z0-9][a-z0-9-]*)\]$/.exec(line))) {
      cur = { id: m[1], line: i + 1, fields: {} };
      entries.push(cur);
      last = null;
    } else if (/^\s/.test(raw) && cur && last) {
      if (last === 'find' || last === 'replace') errors.push(`${where}: ${last} is one line`);
      else cur.fields[last] += ` ${line.trim()}`;
    } else if ((m = /^([a-z]+):\s?(.*)$/.exec(line)) && cur) {
      if (!KNOWN.has(m[1])) errors.push(`${where}: unknown key ${m[1]} in [${cur.id}]`);
      if (m[1] in cur.fields) errors.push(`${where}: ${m[1]} given twice in [${cur.id}]`);
      // Fragments keep their inner spacing; leading blanks after the colon are layout.
      cur.fields[m[1]] = m[2].replace(/^\s+/, '');
      last = m[1];
    } else {
      errors.push(`${where}: not an entry header, a key: value line or a continuation: ${raw}`);
    }
  });
  const seen = new Set();
  for (const e of entries) {
    if (seen.has(e.id)) errors.push(`[${e.id}] (line ${e.line}): the id is used twice`);
    seen.add(e.id);
    for (const k of REQUIRED) if (!e.fields[k]) errors.push(`[${e.id}] (line ${e.line}): ${k} is missing`);
    if (e.fields.find !== undefined && e.fields.find === e.fields.replace) errors.push(`[${e.id}]: replace equals find`);
  }
  return { entries, errors };
}

const load = (list) => parse(readFileSync(list, 'utf8'));
const glob = (p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

function find(list, id) {
  const e = load(list).entries.find((x) => x.id === id);
  if (!e) {
    console.error(`no mutant [${id}] in ${list}`);
    process.exit(2);
  }
  return e;
}

const occurrences = (text, fragment) => {
  let n = 0;
  for (let i = text.indexOf(fragment); i >= 0; i = text.indexOf(fragment, i + 1)) n++;
  return n;
};

function main([cmd, list, ...rest]) {
  switch (cmd) {
    case 'check': {
      const { entries, errors } = load(list);
      for (const e of errors) console.error(e);
      if (entries.length === 0) console.error(`${list}: no mutants`);
      return errors.length || entries.length === 0 ? 1 : 0;
    }
    case 'ids': {
      const pats = rest.flatMap((p) => p.split(/[\s,]+/)).filter(Boolean).map(glob);
      for (const e of load(list).entries) if (pats.length === 0 || pats.some((p) => p.test(e.id))) console.log(e.id);
      return 0;
    }
    case 'get': {
      const [id, field] = rest;
      console.log(find(list, id).fields[field] ?? '');
      return 0;
    }
    case 'apply': {
      const [id, tree] = rest;
      const e = find(list, id);
      const path = join(tree, e.fields.file);
      if (!existsSync(path)) {
        console.error(`${e.fields.file} does not exist`);
        return 3;
      }
      const text = readFileSync(path, 'utf8');
      const n = occurrences(text, e.fields.find);
      if (n === 0) {
        console.error(`the fragment is no longer in ${e.fields.file}: ${e.fields.find}`);
        return 3;
      }
      if (n > 1) {
        console.error(`the fragment is in ${e.fields.file} ${n} times; make it unique: ${e.fields.find}`);
        return 4;
      }
      writeFileSync(path, text.replace(e.fields.find, () => e.fields.replace));
      return 0;
    }
    default:
      console.error('usage: mutants.mjs check|ids|get|apply LIST …');
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
