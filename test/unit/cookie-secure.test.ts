/**
 * Set-Cookie towards a plain-HTTP listener loses `Secure` (a phone on
 * `listen.http` would never send it back); towards HTTPS it is untouched.
 */
import t from 'tap';
import fc from 'fast-check';
import { compileRewriteRules } from '../../src/rewrite/index.js';
import { dropSecure } from '../../src/rewrite/headers.js';

const PUB = 'cucm-pub.example.test';
const GW = 'ucgw.example.test';
const rules = compileRewriteRules({ names: [PUB, 'cucm-pub', '10.0.0.12'] });
const overHttp = rules.forTarget({ host: GW, port: 8080, scheme: 'http' });
const overHttps = rules.forTarget({ host: GW, port: 8443, scheme: 'https' });

t.test('every form of the Secure attribute goes, nothing else does', async (t) => {
  const cases: [string, string][] = [
    ['JSESSIONID=ABC; Path=/ccmcip/; Secure; HttpOnly', 'JSESSIONID=ABC; Path=/ccmcip/; HttpOnly'],
    ['a=1; Secure', 'a=1'],
    ['a=1; secure;', 'a=1;'],
    ['a=1; SECURE; Path=/', 'a=1; Path=/'],
    ['a=1;Secure', 'a=1'],
    ['a=1;Secure ;Path=/', 'a=1;Path=/'],
    ['a=1; ;Secure ;', 'a=1; ;'],
    ['a=1;\tSecure\t; HttpOnly', 'a=1; HttpOnly'],
    ['a=1; Secure  ', 'a=1'],
    // RFC 6265 §5.2.5: the attribute counts whatever its value; a UA would still mark these secure-only.
    ['a=1; Secure=', 'a=1'],
    ['a=1; Secure=false; Path=/', 'a=1; Path=/'],
    ['a=1; Secure = yes ; HttpOnly', 'a=1; HttpOnly'],
    ['a=1; Secure; Path=/; Secure', 'a=1; Path=/'],
    ['a=1; HttpOnly; Secure; SameSite=Lax', 'a=1; HttpOnly; SameSite=Lax'],
    // Not the attribute.
    ['Secure=1; Path=/', 'Secure=1; Path=/'],
    ['secure; Path=/', 'secure; Path=/'],
    ['a=Secure; Path=/', 'a=Secure; Path=/'],
    ['a=1; Path=/secure', 'a=1; Path=/secure'],
    ['a=1; Path=/x; Secured', 'a=1; Path=/x; Secured'],
    ['a=1; SecureX; HttpOnly', 'a=1; SecureX; HttpOnly'],
    ['a=1; Insecure', 'a=1; Insecure'],
    ['a=1; Path=/ccmcip/; HttpOnly', 'a=1; Path=/ccmcip/; HttpOnly'],
    ['__Secure-id=1; Path=/', '__Secure-id=1; Path=/'],
  ];
  for (const [cookie, want] of cases) t.equal(dropSecure(cookie), want, JSON.stringify(cookie));
});

t.test('unchanged input is the same string, so arrays stay the same array', async (t) => {
  const cookie = 'a=1; Path=/secure';
  t.equal(dropSecure(cookie), cookie);
  const list = ['a=1; Path=/', 'b=2; HttpOnly'];
  t.equal(overHttp.rewriteHeader('set-cookie', list), list);
});

t.test('towards a plain-HTTP listener: Secure goes, together with a node Domain; towards HTTPS: only the Domain', async (t) => {
  const cookies = [`JSESSIONID=ABC; Path=/ccmcip/; Domain=${PUB}; Secure; HttpOnly`, 'b=2; secure', 'c=3; Path=/'];
  t.same(overHttp.rewriteHeader('set-cookie', cookies), ['JSESSIONID=ABC; Path=/ccmcip/; HttpOnly', 'b=2', 'c=3; Path=/']);
  t.same(overHttps.rewriteHeader('set-cookie', cookies), ['JSESSIONID=ABC; Path=/ccmcip/; Secure; HttpOnly', 'b=2; secure', 'c=3; Path=/']);
  t.equal(overHttp.rewriteHeader('Set-Cookie', 'x=1; Secure'), 'x=1', 'a single string');
  t.equal(overHttps.rewriteHeader('Set-Cookie', 'x=1; Secure'), 'x=1; Secure');
  t.equal(overHttp.rewriteHeader('Location', 'https://example.org/?Secure; x'), 'https://example.org/?Secure; x', 'other headers never');
});

t.test('property: no Secure attribute survives, every other attribute does, in order', async (t) => {
  const attrName = fc.constantFrom('Path', 'HttpOnly', 'SameSite', 'Max-Age', 'Secured', 'Insecure', 'Secure');
  const space = fc.constantFrom('', ' ', '\t', '  ');
  const attr = fc.record({ name: attrName, upper: fc.boolean(), before: space, after: space, value: fc.option(fc.stringMatching(/^[a-z/=]{0,6}$/)) });
  fc.assert(
    fc.property(fc.array(attr, { maxLength: 6 }), (attrs) => {
      const text = (a: (typeof attrs)[number]) => `${a.before}${a.upper ? a.name.toUpperCase() : a.name}${a.after}${a.value === null ? '' : `=${a.value}`}`;
      const cookie = 'n=v' + attrs.map((a) => `;${text(a)}`).join('');
      const want = 'n=v' + attrs.filter((a) => a.name !== 'Secure').map((a) => `;${text(a)}`).join('');
      return dropSecure(cookie) === want;
    }),
  );
  t.pass('property held');
});
