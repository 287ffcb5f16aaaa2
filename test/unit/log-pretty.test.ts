/**
 * Issue 18: logs a person can read. `log.format: pretty` (the default on a
 * terminal) prints one line per event from pino's JSON, with level colours
 * only when asked (a terminal without NO_COLOR); node up/down, certificate and
 * reload events carry a tag that stands out; JSON stays the default elsewhere.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { formatLogLine, eventTag, prettyStream } from '../../src/log-pretty.js';
import { createLogger, resolveLogFormat, useColor } from '../../src/log.js';
import { parseConfig } from '../../src/config/load.js';

const TIME = '2026-12-07T02:46:42.123Z';
const line = (fields: Record<string, unknown>) => JSON.stringify({ level: 'info', time: TIME, pid: 42, role: 'primary', ...fields });
const plain = { color: false };

t.test('node up and down', async (t) => {
  t.equal(
    formatLogLine(line({ level: 'warn', event: 'upstream_down', cluster: 'cucm', node: 'pub', layer: 'connect', reason: 'ECONNREFUSED 127.0.0.1:8443', source: 'check', msg: 'cucm/pub is down: connect ECONNREFUSED' }), plain),
    '2026-12-07 02:46:42.123Z WARN  ▼ NODE DOWN cucm/pub is down: connect ECONNREFUSED  cluster=cucm node=pub layer=connect reason="ECONNREFUSED 127.0.0.1:8443" source=check',
  );
  t.equal(
    formatLogLine(line({ event: 'upstream_up', cluster: 'cucm', node: 'pub', msg: 'cucm/pub is up' }), plain),
    '2026-12-07 02:46:42.123Z INFO  ▲ NODE UP   cucm/pub is up  cluster=cucm node=pub',
  );
});

t.test('certificate and reload events', async (t) => {
  t.equal(
    formatLogLine(line({ event: 'cert_renewed', keyType: 'rsa-2048', serial: '0A1B', msg: 'certificate renewed' }), plain),
    '2026-12-07 02:46:42.123Z INFO  ◆ CERT      certificate renewed  keyType=rsa-2048 serial=0A1B',
  );
  const rejected = formatLogLine(
    line({ level: 'warn', event: 'reload_rejected', keys: ['clusters[0].nodes[0].url'], msg: 'reload refused, the running config stays: clusters[0].nodes[0].url: must be an https:// URL' }),
    plain,
  );
  t.equal(rejected, '2026-12-07 02:46:42.123Z WARN  ↻ RELOAD    reload refused, the running config stays: clusters[0].nodes[0].url: must be an https:// URL  keys=["clusters[0].nodes[0].url"]');
  t.same(eventTag('access'), undefined, 'an ordinary event has no tag');
});

t.test('other events: the event name, worker, nested fields and errors on one line', async (t) => {
  const text = formatLogLine(
    JSON.stringify({ level: 50, time: TIME, pid: 7, role: 'worker', worker: 2, event: 'worker_start_failed', err: { type: 'Error', message: 'bind EADDRINUSE', stack: 'Error: ...' }, listeners: [{ port: 8443 }], msg: 'worker could not start' }),
    plain,
  );
  t.equal(text, '2026-12-07 02:46:42.123Z ERROR w2 worker_start_failed worker could not start  err="bind EADDRINUSE" listeners=[{"port":8443}]');
  t.notMatch(text, /\n/, 'one line');
  t.equal(formatLogLine('not json at all', plain), 'not json at all', 'anything else passes through');
});

t.test('colours only when asked, and never with NO_COLOR or off a terminal', async (t) => {
  const coloured = formatLogLine(line({ level: 'error', event: 'upstream_down', msg: 'down' }), { color: true });
  t.match(coloured, /\u001b\[1;31mERROR\u001b\[0m/, 'the level in red');
  t.match(coloured, /\u001b\[1;31m▼ NODE DOWN/, 'the tag in red');
  t.notMatch(formatLogLine(line({ msg: 'x' }), plain), /\u001b/, 'no escape codes without colour');
  t.equal(useColor({}, true), true);
  t.equal(useColor({ NO_COLOR: '1' }, true), false, 'NO_COLOR');
  t.equal(useColor({ NO_COLOR: '' }, true), true, 'an empty NO_COLOR does not count (no-color.org)');
  t.equal(useColor({}, false), false, 'not a terminal');
});

t.test('format: pretty on a terminal, json elsewhere, log.format wins', async (t) => {
  t.equal(resolveLogFormat(undefined, true), 'pretty');
  t.equal(resolveLogFormat(undefined, false), 'json');
  t.equal(resolveLogFormat('json', true), 'json');
  t.equal(resolveLogFormat('pretty', false), 'pretty');
  const base = { gateway: { fqdn: 'ucgw.example.test' }, clusters: [{ name: 'c', nodes: [{ name: 'n', url: 'https://n.example.test' }] }] };
  t.equal(parseConfig({ ...base, log: { format: 'pretty' } }, { baseDir: '/', configFile: '' }).log.format, 'pretty');
  t.equal(parseConfig(base, { baseDir: '/', configFile: '' }).log.format, undefined, 'no default: decided at start');
  t.throws(() => parseConfig({ ...base, log: { format: 'text' } }, { baseDir: '/', configFile: '' }), /log\.format: must be one of: json, pretty/);
});

t.test('a pino logger writing pretty lines through the stream', async (t) => {
  const chunks: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (chunks.push(String(chunk)), done()) });
  const log = createLogger({ destination: prettyStream(sink, plain), base: { role: 'primary' } });
  log.warn({ event: 'upstream_down', cluster: 'cucm', node: 'sub1', authorization: 'Bearer x' }, 'cucm/sub1 is down');
  const out = chunks.join('');
  t.match(out, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z WARN  ▼ NODE DOWN cucm\/sub1 is down  cluster=cucm node=sub1 authorization=\[redacted\]\n$/);
  const json: string[] = [];
  createLogger({ destination: new Writable({ write: (chunk, _enc, done) => (json.push(String(chunk)), done()) }) }).info({ event: 'x' }, 'y');
  t.match(JSON.parse(json[0]!), { level: 'info', event: 'x', msg: 'y' }, 'JSON stays the default for a given stream');
});
