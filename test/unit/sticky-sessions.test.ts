import t from 'tap';
import { StickyTable, requestSessionId, responseSessionId } from '../../src/upstream/sticky-sessions.js';

const MIN = 60_000;

t.test('StickyTable', async (t) => {
  t.test('remembers the node per cluster and session', async (t) => {
    const table = new StickyTable(10, 30 * MIN);
    table.set('cucm', 'A', 'pub', 0);
    table.set('other', 'A', 'sub1', 0);
    t.equal(table.get('cucm', 'A', 1), 'pub');
    t.equal(table.get('other', 'A', 1), 'sub1');
    t.equal(table.get('cucm', 'B', 1), undefined);
    t.equal(table.size, 2);
    table.set('cucm', 'A', 'sub2', 2);
    t.equal(table.get('cucm', 'A', 3), 'sub2', 'a later answer replaces the node');
    t.equal(table.size, 2);
  });

  t.test('evicts the least recently used at max', async (t) => {
    const table = new StickyTable(3, 30 * MIN);
    table.set('c', 's1', 'n1', 1);
    table.set('c', 's2', 'n2', 2);
    table.set('c', 's3', 'n3', 3);
    // Reading s1 makes it the most recent: s2 is now the oldest.
    t.equal(table.get('c', 's1', 4), 'n1');
    table.set('c', 's4', 'n4', 5);
    t.equal(table.size, 3);
    t.equal(table.get('c', 's2', 6), undefined, 's2 evicted');
    t.equal(table.get('c', 's1', 6), 'n1');
    t.equal(table.get('c', 's3', 6), 'n3');
    t.equal(table.get('c', 's4', 6), 'n4');
    // Re-setting an existing session refreshes it too.
    table.set('c', 's1', 'n1', 7);
    table.set('c', 's5', 'n5', 8);
    t.equal(table.get('c', 's3', 9), undefined, 's3 evicted (oldest after the refreshes)');
    t.equal(table.size, 3);
  });

  t.test('max 1 keeps only the newest', async (t) => {
    const table = new StickyTable(1, 30 * MIN);
    for (let i = 0; i < 5; i++) table.set('c', `s${i}`, `n${i}`, i);
    t.equal(table.size, 1);
    t.equal(table.get('c', 's4', 10), 'n4');
  });

  t.test('idle entries expire; use keeps them alive', async (t) => {
    const idle = 30 * MIN;
    const table = new StickyTable(10, idle);
    table.set('c', 'kept', 'pub', 0);
    table.set('c', 'idle', 'sub1', 0);
    t.equal(table.get('c', 'kept', idle), 'pub', 'exactly idleMs later is still fresh');
    t.equal(table.get('c', 'kept', 2 * idle), 'pub', 'each use restarts the idle time');
    t.equal(table.get('c', 'idle', 2 * idle), undefined, 'unused for longer than idleMs');
    t.equal(table.size, 1, 'the expired entry is dropped on lookup');
    t.equal(table.get('c', 'kept', 3 * idle + 1), undefined);
    t.equal(table.size, 0);
  });
});

t.test('requestSessionId', async (t) => {
  const cases: { name: string; cookie: string | undefined; path: string; want: string | undefined }[] = [
    { name: 'no cookie, plain path', cookie: undefined, path: '/cucm-uds/user/jdoe', want: undefined },
    { name: 'only cookie', cookie: 'JSESSIONID=ABC123', path: '/x', want: 'ABC123' },
    { name: 'cookie among others, spaces', cookie: 'a=1;  JSESSIONID=ABC123 ; b=2', path: '/x', want: 'ABC123' },
    { name: 'first of several', cookie: 'JSESSIONID=one; JSESSIONID=two', path: '/x', want: 'one' },
    { name: 'cookie names are case-sensitive', cookie: 'jsessionid=lower', path: '/x', want: undefined },
    { name: 'a longer cookie name does not match', cookie: 'XJSESSIONID=no; JSESSIONIDX=no', path: '/x', want: undefined },
    { name: 'empty cookie value', cookie: 'JSESSIONID=', path: '/x', want: undefined },
    { name: 'cookie wins over path parameter', cookie: 'JSESSIONID=cookie', path: '/x;jsessionid=path', want: 'cookie' },
    { name: 'path parameter lower case', cookie: undefined, path: '/ccmcip/xmldirectory.jsp;jsessionid=AbC.node1', want: 'AbC.node1' },
    { name: 'path parameter upper case (value keeps its case)', cookie: undefined, path: '/ccmcip/x.jsp;JSESSIONID=AbC', want: 'AbC' },
    { name: 'path parameter mixed case', cookie: undefined, path: '/x;JSessionId=Mixed', want: 'Mixed' },
    { name: 'path parameter before the query', cookie: undefined, path: '/x;jsessionid=Q1?name=jdoe', want: 'Q1' },
    { name: 'path parameter before another parameter', cookie: undefined, path: '/x;jsessionid=P1;other=2', want: 'P1' },
    { name: 'path parameter in a middle segment', cookie: undefined, path: '/a;jsessionid=M1/b', want: 'M1' },
    { name: 'path parameter with a fragment', cookie: undefined, path: '/x;jsessionid=F1#top', want: 'F1' },
    { name: 'empty path parameter', cookie: undefined, path: '/x;jsessionid=?a=1', want: undefined },
    { name: 'cookie without ours falls back to the path', cookie: 'a=1', path: '/x;jsessionid=fallback', want: 'fallback' },
  ];
  for (const c of cases) t.equal(requestSessionId(c.cookie, c.path, 'JSESSIONID'), c.want, c.name);
  t.equal(requestSessionId('SID=x1', '/x;sid=p', 'SID'), 'x1', 'another cookie name');
  t.equal(requestSessionId(undefined, '/x;SID=p1', 'SID'), 'p1', 'another cookie name as a path parameter');
});

t.test('responseSessionId', async (t) => {
  const cases: { name: string; setCookie: string[] | undefined; want: string | undefined }[] = [
    { name: 'no header', setCookie: undefined, want: undefined },
    { name: 'empty array', setCookie: [], want: undefined },
    { name: 'with attributes', setCookie: ['JSESSIONID=ABC; Path=/; Secure; HttpOnly'], want: 'ABC' },
    { name: 'without attributes', setCookie: ['JSESSIONID=ABC'], want: 'ABC' },
    { name: 'among other cookies', setCookie: ['a=1; Path=/', 'JSESSIONIDSSO=sso; Path=/', 'JSESSIONID=XYZ; Path=/ccmcip'], want: 'XYZ' },
    { name: 'a deletion (empty value) is not a session', setCookie: ['JSESSIONID=; Max-Age=0'], want: undefined },
    { name: 'a deletion then a new session', setCookie: ['JSESSIONID=; Max-Age=0', 'JSESSIONID=NEW; Path=/'], want: 'NEW' },
    { name: 'other cookies only', setCookie: ['a=1', 'b=2'], want: undefined },
    { name: 'case-sensitive name', setCookie: ['jsessionid=lower'], want: undefined },
  ];
  for (const c of cases) t.equal(responseSessionId(c.setCookie, 'JSESSIONID'), c.want, c.name);
});
