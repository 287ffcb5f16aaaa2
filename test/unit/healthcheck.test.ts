/** `ucgate healthcheck`'s pure parts: which address a listen host is asked on. The probe itself: test/e2e/healthcheck.test.ts. */
import t from 'tap';
import { probeHost } from '../../src/cli/healthcheck.js';

t.test('a wildcard listen host is asked on loopback', async (t) => {
  t.equal(probeHost('0.0.0.0'), '127.0.0.1');
  t.equal(probeHost('::'), '::1');
  t.equal(probeHost('[::]'), '::1');
  t.equal(probeHost('127.0.0.1'), '127.0.0.1');
  t.equal(probeHost('10.0.0.5'), '10.0.0.5');
  t.equal(probeHost('[::1]'), '::1');
  t.equal(probeHost('localhost'), 'localhost');
});
