/** The acme config keys this issue adds: defaults, the dns-01 hook rule, and what createIssuer refuses. */
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { createIssuer } from '../../src/issuers/create-issuer.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { DEFAULT_CHECK_INTERVAL_MS, DEFAULT_RETRY_BACKOFF_MS } from '../../src/lifecycle/renewal-timing.js';
import { ConfigError, ErrorCodes, UcgateError } from '../../src/errors.js';

const opts = { baseDir: '/etc/ucgate', configFile: '' };
const base = (acme: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  gateway: { fqdn: 'ucgw.example.test' },
  clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
  certificates: { issuer: { type: 'acme', acme: { directoryUrl: 'https://acme.example.test/dir', ...acme } } },
  ...extra,
});

t.test('defaults: http-01, the backoff table, a five-minute check', async (t) => {
  const config = parseConfig(base({}), opts);
  t.match(config.certificates.issuer.acme, { challenge: 'http-01', checkIntervalMs: DEFAULT_CHECK_INTERVAL_MS, retryBackoffMs: [...DEFAULT_RETRY_BACKOFF_MS] });
  t.same(
    DEFAULT_RETRY_BACKOFF_MS.map((ms) => ms / 60_000),
    [1, 2, 5, 10, 30, 60, 120, 360],
  );
});

t.test('dns-01 without a hook, and bad tuning, are config errors with their path', async (t) => {
  const problems = (input: unknown) => {
    try {
      parseConfig(input, opts);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };
  t.match(problems(base({ challenge: 'dns-01' })), [/^certificates\.issuer\.acme\.dnsHook: .*dns-01/]);
  t.same(problems(base({ challenge: 'dns-01', dnsHook: '/usr/local/bin/hook' })), []);
  t.match(problems(base({ retryBackoffMs: [] })), [/^certificates\.issuer\.acme\.retryBackoffMs/]);
  t.match(problems(base({ checkIntervalMs: 10 })), [/^certificates\.issuer\.acme\.checkIntervalMs/]);
  t.match(problems(base({ directoryUrl: 'http://acme.example.test/dir' })), [/^certificates\.issuer\.acme\.directoryUrl: .*https/]);
  // Node's resolver takes addresses only: a name here could never be asked.
  t.match(problems(base({ dnsPropagation: { nameservers: ['ns1.example.test'] } })), [/^certificates\.issuer\.acme\.dnsPropagation\.nameservers\[0\]: .*IP address/]);
  t.match(problems(base({ dnsPropagation: { nameservers: ['10.0.0.53:99999'] } })), [/^certificates\.issuer\.acme\.dnsPropagation\.nameservers\[0\]/]);
  t.same(problems(base({ dnsPropagation: { nameservers: ['10.0.0.53', '10.0.0.54:5353', '[2001:db8::53]:53', '2001:db8::54'] } })), []);
});

t.test('dns-01 propagation defaults: the authoritative servers, two minutes, every two seconds', async (t) => {
  t.same(parseConfig(base({}), opts).certificates.issuer.acme?.dnsPropagation, { timeoutMs: 120_000, intervalMs: 2_000, nameservers: [] });
});

t.test('http-01 needs a plain-HTTP listener; the issuer says so with the key path', async (t) => {
  const storage = await new FileStorage(t.testdir()).open();
  const err = (await createIssuer(parseConfig(base({}), opts), storage).then(
    () => undefined,
    (e: unknown) => e,
  )) as UcgateError;
  t.equal(err.code, ErrorCodes.CONFIG_INVALID);
  t.equal(err.exitCode, 2);
  t.match(err.message, /^certificates\.issuer\.acme\.challenge: http-01 needs a listen\.http listener/);
  const ok = await createIssuer(parseConfig(base({}, { listen: { http: [{ port: 8080 }] } }), opts), storage);
  t.equal(ok.type, 'acme');
  t.equal((ok as unknown as { needsDataPlane: boolean }).needsDataPlane, true, 'orders only once the listeners run');
  t.equal((await createIssuer(parseConfig(base({ challenge: 'tls-alpn-01' }), opts), storage)).type, 'acme', 'tls-alpn-01 uses the HTTPS listeners');
});
