import fc from 'fast-check';
import { parseConfig, parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { readFileSync } from 'node:fs';
const at = { baseDir: '/tmp/nonexist', configFile: '' };
const RE = /^[A-Za-z0-9_.[\]]+: \S/;
const seen = new Map<string, string>();
function check(fn: () => unknown) {
  try { fn(); return true; } catch (e) {
    if (!(e instanceof ConfigError)) { console.log('NON-CONFIG', e); return false; }
    for (const p of e.problems) { const k = p.slice(p.indexOf(': ')).replace(/"[^"]*"/g,'Q').replace(/\d+/g,'N').slice(0, 40); if (!seen.has(k)) seen.set(k, p); if (!RE.test(p) || p.includes('\n')) { console.log('BAD', JSON.stringify(p)); return false; } }
    return true;
  }
}
fc.assert(fc.property(fc.jsonValue(), (v) => check(() => parseConfig(v, at))), { numRuns: 20000 });
fc.assert(fc.property(fc.anything(), (v) => check(() => parseConfig(v, at))), { numRuns: 20000 });
const ex = readFileSync('config/ucgate.example.yaml', 'utf8');
fc.assert(fc.property(fc.tuple(fc.nat({ max: ex.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 6 })), ([p, d, s]) => check(() => parseConfigText(ex.slice(0, p) + s + ex.slice(p + d), at))), { numRuns: 20000 });
fc.assert(fc.property(fc.string({unit: fc.constantFrom(...'ab:- \n\t[]{}"\'#&*!|>%@`,?0123456789.'.split(''), 'gateway', 'clusters', 'port', '<<', '!!binary ', '!!set', '&a', '*a'), maxLength: 100}), (s) => check(() => parseConfigText(s, at))), { numRuns: 20000 });
console.log([...seen.values()].sort().join('\n'));
