import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { formBodyKind, formDecode, parseParams, queryOf } from '../../src/proxy/tomcat-params.js';

const pairs = (encoded: string) => parseParams(encoded).map((p) => [p.name, p.value.toString('latin1')]);

function req(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

t.test('parameters as Tomcat reads them', async (t) => {
  t.same(pairs('device=SEP1&userid=jdoe&seq=123'), [
    ['device', 'SEP1'],
    ['userid', 'jdoe'],
    ['seq', '123'],
  ]);
  t.same(pairs('user%69d=jdoe'), [['userid', 'jdoe']], 'a name percent-encoded is decoded');
  t.same(pairs('%75%73%65%72%49%44=x'), [['userid', 'x']], 'every byte encoded, in any case');
  t.same(pairs('USERID=jdoe&UserId=x'), [
    ['userid', 'jdoe'],
    ['userid', 'x'],
  ], 'names matched in any case (wider than Tomcat)');
  t.same(pairs('userid=j+doe&seq=1%2B2'), [
    ['userid', 'j doe'],
    ['seq', '1+2'],
  ], '+ is a space, %2B a plus');
  t.same(pairs('userid=jdoe;jsessionid=ABC&seq=1'), [
    ['userid', 'jdoe;jsessionid=ABC'],
    ['seq', '1'],
  ], '; does not separate parameters');
  t.same(pairs('userid&=x&&seq='), [
    ['userid', ''],
    ['seq', ''],
  ], 'no = is an empty value; an empty name is skipped');
  t.same(pairs('userid=a&userid=b'), [
    ['userid', 'a'],
    ['userid', 'b'],
  ], 'repeated names are all kept, in order');
  t.same(pairs('userid=jd%zzoe%4'), [['userid', 'jd%zzoe%4']], 'malformed escapes kept as sent');
  t.same(pairs('a=b=c'), [['a', 'b=c']], 'the name ends at the first =');
  t.same(formDecode('%C3%A9').toString('utf8'), 'é', 'values stay bytes');
  t.equal(queryOf('/emapp/EMAppServlet;jsessionid=x?userid=a?b'), 'userid=a?b');
  t.equal(queryOf('/emapp/EMAppServlet'), '');
});

t.test('which bodies Tomcat reads parameters from', async (t) => {
  const form = 'application/x-www-form-urlencoded';
  t.equal(formBodyKind(req({ 'content-type': form, 'content-length': '10' })), 'form');
  t.equal(formBodyKind(req({ 'content-type': 'Application/X-WWW-Form-URLEncoded ; charset=UTF-8', 'content-length': '10' })), 'form', 'any case, UTF-8');
  t.equal(formBodyKind(req({ 'content-type': `${form}; charset="iso-8859-1"`, 'transfer-encoding': 'chunked' })), 'form', 'chunked');
  t.equal(formBodyKind(req({ 'content-type': `${form}; charset=UTF-16LE`, 'content-length': '10' })), 'charset', 'u\\0s\\0e\\0r\\0 is userid in UTF-16');
  t.equal(formBodyKind(req({ 'content-type': 'multipart/form-data; boundary=x', 'content-length': '10' })), 'multipart');
  t.equal(formBodyKind(req({ 'content-type': form })), 'none', 'no body');
  t.equal(formBodyKind(req({ 'content-type': form, 'content-length': '0' })), 'none', 'an empty body');
  t.equal(formBodyKind(req({ 'content-type': 'application/json', 'content-length': '10' })), 'none', 'not a form');
  t.equal(formBodyKind(req({ 'content-length': '10' })), 'none', 'no content type');
});
