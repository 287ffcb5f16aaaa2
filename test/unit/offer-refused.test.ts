/**
 * A node without a certificate for the first offer answers alert
 * handshake_failure; the fallback offer must follow on every supported
 * runtime. Node names the error after OpenSSL's reason string, which OpenSSL
 * 3.5 (Node 22.20+, 24) changed from "sslv3 alert" to "ssl/tls alert".
 */
import t from 'tap';
import { offerRefused } from '../../src/upstream/upstream-node.js';

t.test('both spellings of a refused offer are recognised', async (t) => {
  for (const code of ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE', 'ERR_SSL_SSLV3_ALERT_INSUFFICIENT_SECURITY', 'ERR_SSL_SSL/TLS_ALERT_INSUFFICIENT_SECURITY']) {
    t.ok(offerRefused(Object.assign(new Error(code), { code })), code);
  }
});

t.test('other failures are not a refused offer', async (t) => {
  for (const code of ['ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE', 'ECONNRESET', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', undefined]) {
    t.notOk(offerRefused(Object.assign(new Error(String(code)), { code })), String(code));
  }
  t.notOk(offerRefused(null));
});
