import t from 'tap';
import {
  classifyUpstreamError,
  UpstreamTimeoutError,
  CONNECT_TIMEOUT,
  FIRST_BYTE_TIMEOUT,
  type FailureClass,
} from '../../src/http/upstream-failure.js';

const withCode = (code: string, message = `failed: ${code}`) => Object.assign(new Error(message), { code });

t.test('classification table', async (t) => {
  const table: [code: string, cls: FailureClass, status: 502 | 503 | 504][] = [
    [CONNECT_TIMEOUT, 'timeout', 504],
    [FIRST_BYTE_TIMEOUT, 'timeout', 504],
    ['ETIMEDOUT', 'timeout', 504],
    ['ECONNREFUSED', 'connect', 503],
    ['EHOSTUNREACH', 'connect', 503],
    ['ENETUNREACH', 'connect', 503],
    ['ENOTFOUND', 'connect', 503],
    ['EAI_AGAIN', 'connect', 503],
    ['EADDRNOTAVAIL', 'connect', 503],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls', 502],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'tls', 502],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls', 502],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls', 502],
    ['CERT_HAS_EXPIRED', 'tls', 502],
    ['CERT_NOT_YET_VALID', 'tls', 502],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls', 502],
    ['EPROTO', 'tls', 502],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls', 502],
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'tls', 502],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'tls', 502],
    ['ECONNRESET', 'reset', 502],
    ['EPIPE', 'reset', 502],
    ['ECONNABORTED', 'reset', 502],
    ['UND_ERR_SOCKET', 'reset', 502],
    ['UND_ERR_HEADERS_OVERFLOW', 'protocol', 502],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'protocol', 502],
    ['HPE_INVALID_CONSTANT', 'protocol', 502],
    ['ERR_HTTP_INVALID_HEADER_VALUE', 'protocol', 502],
    ['SOMETHING_NEW', 'protocol', 502],
  ];
  for (const [code, cls, status] of table) {
    t.strictSame(classifyUpstreamError(withCode(code, 'msg')), { class: cls, code, status, message: 'msg' }, code);
  }
});

t.test('branches on the code, never on the message', async (t) => {
  t.equal(classifyUpstreamError(withCode('ECONNRESET', 'connect ECONNREFUSED 127.0.0.1:1 timed out')).class, 'reset');
  t.equal(classifyUpstreamError(new Error('ECONNREFUSED timeout')).class, 'protocol');
});

t.test('errors without a code, and things that are not errors', async (t) => {
  t.strictSame(classifyUpstreamError(new Error('boom')), { class: 'protocol', code: 'UNKNOWN', status: 502, message: 'boom' });
  t.strictSame(classifyUpstreamError('just a string'), { class: 'protocol', code: 'UNKNOWN', status: 502, message: 'just a string' });
  t.strictSame(classifyUpstreamError(undefined), { class: 'protocol', code: 'UNKNOWN', status: 502, message: 'undefined' });
  t.strictSame(classifyUpstreamError(null), { class: 'protocol', code: 'UNKNOWN', status: 502, message: 'null' });
  t.equal(classifyUpstreamError({ code: 42 }).code, '42', 'a numeric code is stringified');
});

t.test('UpstreamTimeoutError carries its code and classifies as timeout', async (t) => {
  const connect = new UpstreamTimeoutError(CONNECT_TIMEOUT, 1000);
  t.equal(connect.code, CONNECT_TIMEOUT);
  t.match(connect.message, /no TLS connection within 1000 ms/);
  t.match(classifyUpstreamError(connect), { class: 'timeout', status: 504, code: CONNECT_TIMEOUT });
  const firstByte = new UpstreamTimeoutError(FIRST_BYTE_TIMEOUT, 5000);
  t.match(firstByte.message, /no response head within 5000 ms/);
  t.match(classifyUpstreamError(firstByte), { class: 'timeout', status: 504, code: FIRST_BYTE_TIMEOUT });
});
