/**
 * The gateway's own answers: a CiscoIPPhoneText to a Cisco IP phone, the
 * plain text of before to everyone else; same status, headers kept.
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeXml, isCiscoIpPhone, phoneTextBody, upstreamFailureReason } from '../../src/proxy/phone-answer.js';
import { respondStatus } from '../../src/proxy/local-answer.js';

/** The whole document, strictly: declaration, root, Title, Text; contents escaped (only the five entities). */
const ESCAPED = String.raw`(?:[^<>&"']|&(?:amp|lt|gt|quot|apos);)*`;
const DOCUMENT = new RegExp(String.raw`^<\?xml version="1\.0" encoding="utf-8"\?>\n<CiscoIPPhoneText><Title>(${ESCAPED})</Title><Text>(${ESCAPED})</Text></CiscoIPPhoneText>\n$`);
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescape = (s: string) => s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ENTITIES[e]!);

function parse(body: string): { title: string; text: string } {
  const m = DOCUMENT.exec(body);
  if (!m) throw new Error(`not a well-formed CiscoIPPhoneText: ${body}`);
  return { title: unescape(m[1]!), text: unescape(m[2]!) };
}

t.test('which requests come from a phone', async (t) => {
  const cases: [IncomingHttpHeaders, boolean][] = [
    [{ 'x-ciscoipphonemodelname': 'CP-8845' }, true],
    [{ 'x-ciscoipphonemodelname': '' }, true],
    [{ accept: 'x-CiscoIPPhone/*;version=3.0, text/*,image/png,*/*' }, true],
    [{ accept: 'X-CISCOIPPHONE/TEXT' }, true],
    [{ accept: 'text/html, x-CiscoIPPhone/Menu' }, true],
    [{ accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, false],
    [{ accept: 'x-CiscoIPPhone' }, false],
    [{ accept: '*/*', 'user-agent': 'Cisco-CP8845/14.2' }, false],
    [{ 'x-ciscoipphonedisplay': '298, 168, 12, C' }, false],
    [{}, false],
  ];
  for (const [headers, want] of cases) t.equal(isCiscoIpPhone(headers), want, JSON.stringify(headers));
});

t.test('XML escaping: the five characters the Development Notes list, nothing else', async (t) => {
  t.equal(escapeXml(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
  t.equal(escapeXml('&amp;'), '&amp;amp;', 'already-escaped text is escaped again: it is text');
  t.equal(escapeXml('plain ÄÖ text'), 'plain ÄÖ text');
});

t.test('the document: title and a one-line reason per status, the status code, no Prompt', async (t) => {
  const cases: [number, string, RegExp][] = [
    [503, 'Service unavailable', /^No server is available/],
    [504, 'Service timeout', /did not answer in time/],
    [502, 'Service error', /did not answer properly/],
    [404, 'Not found', /does not exist/],
    [403, 'Not available', /not available/],
    [429, 'Too many requests', /Too many/],
    [413, 'Request too large', /larger/],
    [400, 'Bad request', /could not read/],
    [418, 'Service error', /could not be completed/],
  ];
  for (const [status, title, text] of cases) {
    const body = phoneTextBody(status);
    const doc = parse(body);
    t.equal(doc.title, title, `${status} title`);
    t.match(doc.text, text, `${status} text`);
    t.ok(doc.text.endsWith(`(HTTP ${status})`), `${status}: the code, for the help desk`);
    t.notOk(body.includes('<Prompt>'), `${status}: no Prompt (a 6900 would show it instead of the Title)`);
  }
});

t.test('Retry-After in seconds becomes "try again in N s"; other forms are not guessed at', async (t) => {
  t.match(parse(phoneTextBody(429, undefined, '30')).text, 'Try again in 30 s.');
  t.match(parse(phoneTextBody(503, undefined, 5)).text, 'Try again in 5 s.');
  t.match(parse(phoneTextBody(503, undefined, ' 7 ')).text, 'Try again in 7 s.');
  for (const value of [undefined, '', 'soon', 'Tue, 01 Jan 2030 00:00:30 GMT', '-1', '1.5', ['30'], 2.5]) {
    t.notMatch(parse(phoneTextBody(503, undefined, value as string)).text, 'Try again', JSON.stringify(value));
  }
});

t.test('a reason replaces the sentence, escaped, on one line', async (t) => {
  const doc = parse(phoneTextBody(503, 'Directory <down> & "busy"\r\nfor \'now\'\u0000', '10'));
  t.equal(doc.text, `Directory <down> & "busy" for 'now' Try again in 10 s. (HTTP 503)`);
  t.equal(parse(phoneTextBody(503, ' \n\t ')).text, 'No server is available for this service. (HTTP 503)', 'an empty reason: the standard one');
});

t.test('a reason per upstream failure class, naming no node', async (t) => {
  for (const failure of ['connect', 'tls', 'timeout', 'reset', 'protocol'] as const) {
    const doc = parse(phoneTextBody(502, upstreamFailureReason(failure)));
    t.equal(doc.text, `${upstreamFailureReason(failure)} (HTTP 502)`, failure);
  }
});

t.test('property: any reason gives a well-formed document carrying it', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 400, max: 599 }), fc.string({ unit: 'binary', maxLength: 80 }), (status, reason) => {
      const doc = parse(phoneTextBody(status, reason));
      const line = reason.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
      return !/[\u0000-\u001f]/.test(doc.text) && (line === '' || doc.text.startsWith(line));
    }),
  );
  t.pass('property held');
});

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** respondStatus on a real server, so `res.req` is what Node sets. */
async function answer(t: Test, requestHeaders: OutgoingHttpHeaders, prepare: (res: ServerResponse) => void, method = 'GET'): Promise<Answer> {
  const server = createServer((_req, res) => prepare(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, method, path: '/ccmcip/xmldirectory.jsp', headers: requestHeaders, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

const PHONE = { 'x-CiscoIPPhoneModelName': 'CP-8845', accept: 'x-CiscoIPPhone/*;version=3.0, text/*,image/png,*/*' };
const BROWSER = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'user-agent': 'Mozilla/5.0' };

t.test('respondStatus: a phone gets the XML object, same status, Retry-After kept', async (t) => {
  const res = await answer(t, PHONE, (r) => {
    r.setHeader('retry-after', '60');
    respondStatus(r, 429);
  });
  t.equal(res.status, 429);
  t.equal(res.headers['content-type'], 'text/xml; charset=utf-8');
  t.equal(res.headers['retry-after'], '60');
  t.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body));
  const doc = parse(res.body);
  t.equal(doc.title, 'Too many requests');
  t.match(doc.text, 'Try again in 60 s.');
});

t.test('respondStatus: only the Accept header is enough, and the reason shows', async (t) => {
  const res = await answer(t, { accept: 'x-CiscoIPPhone/*' }, (r) => respondStatus(r, 503, 'The directory is being upgraded.'));
  t.equal(res.status, 503);
  t.equal(parse(res.body).text, 'The directory is being upgraded. (HTTP 503)');
});

t.test('respondStatus: other clients get exactly the plain text of before, reason or not', async (t) => {
  for (const [status, line] of [
    [503, '503 Service Unavailable\n'],
    [404, '404 Not Found\n'],
    [504, '504 Gateway Timeout\n'],
    [418, '418 \n'],
  ] as const) {
    const res = await answer(t, BROWSER, (r) => respondStatus(r, status, 'a reason only phones see'));
    t.equal(res.status, status);
    t.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    t.equal(res.body, line);
  }
  const allowed = await answer(t, {}, (r) => {
    r.setHeader('allow', 'GET, HEAD');
    respondStatus(r, 405);
  });
  t.equal(allowed.headers.allow, 'GET, HEAD', 'headers set before are kept');
  t.equal(allowed.body, '405 Method Not Allowed\n');
});

t.test('respondStatus: HEAD from a phone gets the head only, with the XML type and length', async (t) => {
  const res = await answer(t, PHONE, (r) => respondStatus(r, 503), 'HEAD');
  t.equal(res.status, 503);
  t.equal(res.headers['content-type'], 'text/xml; charset=utf-8');
  t.equal(Number(res.headers['content-length']), Buffer.byteLength(phoneTextBody(503)));
  t.equal(res.body, '');
});
