import t from 'tap';
import fc from 'fast-check';
import { loggableTarget } from '../../src/proxy/loggable-target.js';

t.test('table', async (t) => {
  const cases: [name: string, input: string, want: string][] = [
    ['no query', '/cucm-uds/version', '/cucm-uds/version'],
    ['query with nothing sensitive', '/cucm-uds/users?name=jdoe&max=10', '/cucm-uds/users?name=jdoe&max=10'],
    [
      'Extension Mobility login: userid and seq redacted, device kept',
      '/emapp/EMAppServlet?device=SEP001122334455&userid=jdoe&seq=12345',
      '/emapp/EMAppServlet?device=SEP001122334455&userid=[redacted]&seq=[redacted]',
    ],
    ['names match case-insensitively', '/emapp/EMAppServlet?UserID=jdoe&SEQ=12345', '/emapp/EMAppServlet?UserID=[redacted]&SEQ=[redacted]'],
    ['percent-encoded names are decoded before matching', '/x?%75serid=jdoe&s%65q=1', '/x?%75serid=[redacted]&s%65q=[redacted]'],
    ['other secrets', '/x?password=p&pin=1&token=t&j_password=jp&a=1', '/x?password=[redacted]&pin=[redacted]&token=[redacted]&j_password=[redacted]&a=1'],
    ['repeated sensitive parameter', '/x?seq=1&seq=2', '/x?seq=[redacted]&seq=[redacted]'],
    ['value with "="', '/x?seq=12=34&a=b=c', '/x?seq=[redacted]&a=b=c'],
    ['empty value stays visibly redacted', '/x?seq=&a=', '/x?seq=[redacted]&a='],
    ['a name without "=" is kept', '/x?seq&debug', '/x?seq&debug'],
    ['empty query', '/x?', '/x?'],
    ['empty parts kept', '/x?a=1&&b=2&', '/x?a=1&&b=2&'],
    ['a sensitive-looking value of a harmless name is kept', '/x?q=seq', '/x?q=seq'],
    ['prefixes of sensitive names are not sensitive', '/x?user=jdoe&sequence=5', '/x?user=jdoe&sequence=5'],
    ['jsessionid path parameter', '/ccmcip/xmldirectory.jsp;jsessionid=ABC123', '/ccmcip/xmldirectory.jsp;jsessionid=[redacted]'],
    ['jsessionid path parameter, upper case', '/ccmcip/x.jsp;JSESSIONID=ABC123?name=jdoe', '/ccmcip/x.jsp;jsessionid=[redacted]?name=jdoe'],
    ['jsessionid in a middle segment', '/a;jsessionid=S1/b;jsessionid=S2/c', '/a;jsessionid=[redacted]/b;jsessionid=[redacted]/c'],
    ['jsessionid in the query', '/x?jsessionid=S1&a=1', '/x?jsessionid=[redacted]&a=1'],
    ['other path parameters kept', '/x;version=2/y', '/x;version=2/y'],
    ['malformed percent-encoding in a name: value redacted', '/x?%E0%A4%A=secret&a=1', '/x?%E0%A4%A=[redacted]&a=1'],
    ['lone "%" in a name: value redacted', '/x?se%q=1234', '/x?se%q=[redacted]'],
    ['malformed percent-encoding in a harmless value is kept as is', '/x?a=%zz&b=%', '/x?a=%zz&b=%'],
    ['malformed name without "="', '/x?%zz', '/x?%zz=[redacted]'],
  ];
  for (const [name, input, want] of cases) t.equal(loggableTarget(input), want, name);
});

const SENSITIVE = [
  'userid', 'seq', 'pin', 'password', 'passwd', 'pwd', 'pass', 'secret', 'token', 'access_token',
  'j_username', 'j_password', 'newpin', 'oldpin', 'newpassword', 'oldpassword', 'confirmpin', 'confirmpassword',
  'credentials', 'auth', 'authorization', 'sessionid', 'jsessionid',
];

/** A sensitive name as a client might spell it: any letter case, any character percent-encoded. */
const sensitiveName = fc
  .tuple(fc.constantFrom(...SENSITIVE), fc.array(fc.constantFrom<'lower' | 'upper' | 'pct'>('lower', 'upper', 'pct'), { minLength: 24, maxLength: 24 }))
  .map(([name, how]) =>
    [...name]
      .map((ch, i) => (how[i] === 'upper' ? ch.toUpperCase() : how[i] === 'pct' ? `%${ch.charCodeAt(0).toString(16).toUpperCase()}` : ch))
      .join(''),
  );

// Secret values use digits and capitals only, behind a marker no other part can contain
// (other names and values are lower-case letters, '%' and '_' only), so a hit is a real leak.
const secretValue = fc.stringMatching(/^[A-Z0-9]{4,12}$/).map((v) => `ZZ9${v}`);
const harmlessName = fc.stringMatching(/^[a-z_]{1,10}$/).filter((name) => !SENSITIVE.includes(name));
const harmlessValue = fc.stringMatching(/^[a-z%]{0,10}$/);

const part = fc.oneof(
  fc.record({ secret: fc.constant(true), name: sensitiveName, value: secretValue }),
  fc.record({ secret: fc.constant(false), name: harmlessName, value: harmlessValue }),
);

t.test('property: a sensitive parameter value never reaches the output', async (t) => {
  fc.assert(
    fc.property(fc.stringMatching(/^(\/[a-z]{1,8}){1,3}$/), fc.array(part, { minLength: 1, maxLength: 8 }), (path, parts) => {
      const target = `${path}?${parts.map((p) => `${p.name}=${p.value}`).join('&')}`;
      const out = loggableTarget(target);
      for (const p of parts) if (p.secret && out.includes(p.value)) return false;
      // Harmless parameters survive untouched, in order.
      const kept = parts.filter((p) => !p.secret).map((p) => `${p.name}=${p.value}`);
      const outParts = out.slice(out.indexOf('?') + 1).split('&');
      return kept.every((k) => outParts.includes(k)) && outParts.length === parts.length;
    }),
    { numRuns: 500 },
  );
  t.pass('500 generated targets');
});

t.test('property: a jsessionid path parameter never reaches the output', async (t) => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^(\/[a-z]{1,8}){1,3}$/),
      fc.constantFrom('jsessionid', 'JSESSIONID', 'JSessionId'),
      secretValue,
      fc.constantFrom('', '?a=1', '/next', ';v=1'),
      (path, name, value, rest) => !loggableTarget(`${path};${name}=${value}${rest}`).includes(value),
    ),
    { numRuns: 300 },
  );
  t.pass('300 generated targets');
});

t.test('property: a target without sensitive parts is returned unchanged', async (t) => {
  fc.assert(
    fc.property(fc.stringMatching(/^(\/[a-z]{1,8}){1,3}$/), fc.array(fc.tuple(harmlessName, harmlessValue), { maxLength: 6 }), (path, parts) => {
      const target = parts.length ? `${path}?${parts.map(([n, v]) => `${n}=${v}`).join('&')}` : path;
      return loggableTarget(target) === target;
    }),
  );
  t.pass('generated targets unchanged');
});
