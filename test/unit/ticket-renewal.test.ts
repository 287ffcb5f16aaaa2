/**
 * Session-ticket renewal against real TLS servers: every TLS 1.3 reconnect
 * that uses only the newest ticket resumes (and gets a fresh one), across a
 * key rotation too; TLS 1.2 still resumes; tickets pass between a renewing
 * server and one on the `setTicketKeys` fallback (workers share keys); and
 * the fallback when Node's internal hook is missing.
 *
 * The first test fails if Node changes the internal API: on an upgrade, read
 * src/tls/ticket-renewal.ts before relaxing it.
 */
import t, { type Test } from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server as TlsServer, type SecureContextOptions, type ConnectionOptions } from 'node:tls';
import { SessionTickets, internalContext, ticketRenewalProbe, resetTicketRenewalProbe, setTicketRenewalWarning } from '../../src/tls/ticket-renewal.js';
import { tlsProfile } from '../../src/tls/profiles.js';

const run = promisify(execFile);

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function makeIdentity(dir: string): SecureContextOptions {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-subj', '/CN=ticket.test', '-days', '2'],
    { cwd: dir, stdio: 'ignore' },
  );
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}

async function startServer(t: Test, identity: SecureContextOptions, keys: Buffer): Promise<{ server: TlsServer; port: number }> {
  const server = createServer({ ...tlsProfile('modern').options, ...identity, ticketKeys: keys }, (socket) => {
    socket.on('error', () => undefined);
    socket.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as AddressInfo).port };
}

interface Visit {
  readonly reused: boolean;
  readonly protocol: string | null;
  /** Every ticket the server sent on this connection; the newest last. */
  readonly tickets: Buffer[];
}

function visit(port: number, session?: Buffer, options: ConnectionOptions = {}): Promise<Visit> {
  return new Promise((resolve, reject) => {
    const tickets: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, session, ...options });
    let reused = false;
    let protocol: string | null = null;
    // Read on 'secureConnect': after 'close' Node answers null.
    socket.on('secureConnect', () => {
      reused = socket.isSessionReused();
      protocol = socket.getProtocol();
    });
    socket.on('session', (s: Buffer) => tickets.push(s));
    socket.on('error', reject);
    socket.resume();
    socket.on('close', () => resolve({ reused, protocol, tickets }));
  });
}

/** A full handshake, then `count` reconnects, each with the newest ticket only. */
async function chain(port: number, count: number, options: ConnectionOptions = {}, between?: (i: number) => void): Promise<Visit[]> {
  const first = await visit(port, undefined, options);
  let ticket = first.tickets.at(-1);
  const visits: Visit[] = [];
  for (let i = 0; i < count; i++) {
    between?.(i);
    const v = await visit(port, ticket, options);
    visits.push(v);
    ticket = v.tickets.at(-1) ?? ticket;
  }
  return visits;
}

async function renewing(t: Test, server: TlsServer, keys: Buffer, identity: SecureContextOptions): Promise<SessionTickets> {
  const tickets = new SessionTickets(server, keys, identity);
  await ticketRenewalProbe(identity);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(tickets.mode, 'renewing', 'renewal is on for this server');
  return tickets;
}

const dir = t.testdir();
const identity = makeIdentity(dir);

t.test('the running Node still has the internal ticket-key hook (fails on a Node upgrade that changes it)', async (t) => {
  const { server } = await startServer(t, identity, randomBytes(48));
  const context = internalContext(server);
  t.type(context, 'object', `internal SecureContext API on Node ${process.version}: ${typeof context === 'string' ? context : 'present'}`);
  const result = await ticketRenewalProbe(identity);
  t.same(result, { ok: true }, `behavioural probe on Node ${process.version}: ${result.reason ?? 'ok'}`);
});

t.test("without renewal (Node's default), a resumed TLS 1.3 handshake gets no ticket", async (t) => {
  const { port } = await startServer(t, identity, randomBytes(48));
  const visits = await chain(port, 2);
  t.ok(visits[0]!.reused, 'the first reconnect resumes');
  t.comment(`tickets after a resumption without renewal: ${visits[0]!.tickets.length}`);
  t.notOk(visits[1]!.reused && visits[0]!.tickets.length > 0, 'so the one after it cannot resume with a fresh ticket');
});

t.test('TLS 1.3: ten reconnects with the newest ticket only all resume, each with a fresh ticket', async (t) => {
  const keys = randomBytes(48);
  const { server, port } = await startServer(t, identity, keys);
  const tickets = await renewing(t, server, keys, identity);
  const visits = await chain(port, 10, { maxVersion: 'TLSv1.3' });
  const seen = new Set<string>();
  visits.forEach((v, i) => {
    t.equal(v.protocol, 'TLSv1.3', `reconnect ${i + 1}: TLS 1.3`);
    t.ok(v.reused, `reconnect ${i + 1} resumed`);
    t.ok(v.tickets.length >= 1, `reconnect ${i + 1} got a fresh ticket`);
    for (const ticket of v.tickets) seen.add(ticket.toString('base64'));
  });
  t.ok(seen.size >= 10, 'every ticket is new');
  t.equal(tickets.stats.resumedCurrent, 10, 'each resumption opened with the newest key');
  t.equal(tickets.stats.unknown, 0);
});

t.test('a key rotation in the middle of the chain costs no full handshake', async (t) => {
  const keys = randomBytes(48);
  const { server, port } = await startServer(t, identity, keys);
  const tickets = await renewing(t, server, keys, identity);
  const visits = await chain(port, 10, { maxVersion: 'TLSv1.3' }, (i) => {
    if (i === 5) tickets.setKeys(randomBytes(48));
  });
  visits.forEach((v, i) => {
    t.ok(v.reused, `reconnect ${i + 1} resumed`);
    t.ok(v.tickets.length >= 1, `reconnect ${i + 1} got a fresh ticket`);
  });
  t.equal(tickets.stats.resumedPrevious, 1, 'the reconnect after the rotation opened its ticket with the previous key');
  t.equal(tickets.stats.resumedCurrent, 9);
  t.equal(server.getTicketKeys().length, 48, 'the server reports the newest key');

  // Two rotations later the old ticket is no longer accepted: a full handshake, not an error.
  const stale = (await visit(port)).tickets.at(-1);
  tickets.setKeys(randomBytes(48));
  tickets.setKeys(randomBytes(48));
  const after = await visit(port, stale, { maxVersion: 'TLSv1.3' });
  t.notOk(after.reused, 'a ticket two keys old gets a full handshake');
  t.ok(after.tickets.length >= 1, 'and a new ticket');
  t.equal(tickets.stats.unknown, 1);
});

t.test('TLS 1.2 still resumes, ten times in a row', async (t) => {
  const keys = randomBytes(48);
  const { server, port } = await startServer(t, identity, keys);
  await renewing(t, server, keys, identity);
  const visits = await chain(port, 10, { maxVersion: 'TLSv1.2' });
  visits.forEach((v, i) => {
    t.equal(v.protocol, 'TLSv1.2', `reconnect ${i + 1}: TLS 1.2`);
    t.ok(v.reused, `reconnect ${i + 1} resumed`);
  });
});

t.test('workers share tickets: a renewing server and a setTicketKeys server with the same keys', async (t) => {
  const keys = randomBytes(48);
  const a = await startServer(t, identity, keys);
  await renewing(t, a.server, keys, identity);
  const b = await startServer(t, identity, keys); // Node's default callback, same 48 bytes
  const fromA = (await visit(a.port)).tickets.at(-1);
  const onB = await visit(b.port, fromA, { maxVersion: 'TLSv1.3' });
  t.ok(onB.reused, 'a ticket sealed by the renewing callback opens on the default one');
  const fromB = (await visit(b.port)).tickets.at(-1);
  const onA = await visit(a.port, fromB, { maxVersion: 'TLSv1.3' });
  t.ok(onA.reused, 'a ticket sealed by the default callback opens on the renewing one');
  t.ok(onA.tickets.length >= 1, 'and is renewed');
});

t.test('a new secure context (certificate change) keeps renewal', async (t) => {
  const keys = randomBytes(48);
  const { server, port } = await startServer(t, identity, keys);
  const tickets = await renewing(t, server, keys, identity);
  const before = (await visit(port)).tickets.at(-1);
  server.setSecureContext({ ...tlsProfile('modern').options, ...identity, ticketKeys: keys });
  tickets.refresh(identity);
  t.equal(tickets.mode, 'renewing');
  const visits = await chain(port, 3, { maxVersion: 'TLSv1.3' });
  visits.forEach((v, i) => t.ok(v.reused && v.tickets.length >= 1, `reconnect ${i + 1} resumed with a fresh ticket`));
  t.ok((await visit(port, before, { maxVersion: 'TLSv1.3' })).reused, 'a ticket from before the change still resumes');
});

t.test('if the internal hook goes missing: setTicketKeys, one warning, resumption still works', async (t) => {
  const warnings: string[] = [];
  const previous = setTicketRenewalWarning((m) => warnings.push(m));
  t.teardown(() => void setTicketRenewalWarning(previous));
  const keys = randomBytes(48);
  const { server, port } = await startServer(t, identity, keys);
  const tickets = await renewing(t, server, keys, identity);
  server.setSecureContext({ ...tlsProfile('modern').options, ...identity, ticketKeys: keys });
  const context = (server as unknown as { _sharedCreds: { context: Record<string, unknown> } })._sharedCreds.context;
  context.enableTicketKeyCallback = undefined; // as if a Node upgrade removed it
  tickets.refresh(identity);
  tickets.refresh(identity);
  t.equal(tickets.mode, 'fallback');
  t.equal(warnings.length, 1, 'one warning');
  t.match(warnings[0], /enableTicketKeyCallback is missing/);
  t.same(server.getTicketKeys(), keys, 'keys set the plain way');
  const [v] = await chain(port, 1, { maxVersion: 'TLSv1.3' });
  t.ok(v!.reused, 'resumes on the fallback');
});

t.test('feature detection refuses shapes it does not know', async (t) => {
  t.match(internalContext({} as TlsServer), /_sharedCreds is missing/);
  t.match(internalContext({ _sharedCreds: {} } as unknown as TlsServer), /context is missing/);
  const noop = () => undefined;
  const shaped = { enableTicketKeyCallback: noop, setTicketKeys: noop, getTicketKeys: noop };
  t.type(internalContext({ _sharedCreds: { context: shaped } } as unknown as TlsServer), 'object');
  t.match(internalContext({ _sharedCreds: { context: { ...shaped, onticketkeycallback: noop } } } as unknown as TlsServer), /already set by Node/);
  t.match(internalContext({ _sharedCreds: { context: Object.freeze({ ...shaped }) } } as unknown as TlsServer), /not extensible/);
});

t.test('a probe that cannot complete a handshake reports failure, and servers stay on setTicketKeys', async (t) => {
  const warnings: string[] = [];
  const previous = setTicketRenewalWarning((m) => warnings.push(m));
  resetTicketRenewalProbe();
  t.teardown(() => {
    setTicketRenewalWarning(previous);
    resetTicketRenewalProbe();
  });
  const keys = randomBytes(48);
  const { server, port } = await startServer(t, identity, keys);
  const broken = { key: identity.key, cert: makeIdentity(t.testdir()).cert }; // key and certificate do not match
  const tickets = new SessionTickets(server, keys, broken);
  const result = await ticketRenewalProbe(broken);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(result.ok, false, `probe: ${result.reason}`);
  t.equal(tickets.mode, 'fallback');
  t.equal(warnings.length, 1);
  t.ok((await chain(port, 1))[0]!.reused, 'resumption as before');
});

t.test('openssl s_client: a -sess_in/-sess_out chain of ten TLS 1.3 reconnects all resume', { skip: hasOpenssl() ? false : 'no openssl' }, async (t) => {
  resetTicketRenewalProbe();
  const keys = randomBytes(48);
  const { server, port } = await startServer(t, identity, keys);
  await renewing(t, server, keys, identity);
  const work = t.testdir();
  const sclient = (sessIn: string | undefined, sessOut: string) =>
    run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-ign_eof', '-msg', ...(sessIn ? ['-sess_in', sessIn] : []), '-sess_out', sessOut], {
      timeout: 10_000,
    }).then(
      (r) => r.stdout,
      // s_client exits 1 on the server's close without close_notify ("unexpected eof"): its transcript still counts.
      (err: { stdout?: string }) => err.stdout ?? '',
    );
  await sclient(undefined, join(work, 's0.pem'));
  t.ok(existsSync(join(work, 's0.pem')), 'a session after the full handshake');
  for (let i = 1; i <= 10; i++) {
    const out = await sclient(join(work, `s${i - 1}.pem`), join(work, `s${i}.pem`));
    t.match(out, /Reused, TLSv1\.3/, `s_client reconnect ${i} resumed`);
    t.match(out, /NewSessionTicket/, `s_client reconnect ${i} got a NewSessionTicket`);
    t.not(readFileSync(join(work, `s${i}.pem`), 'utf8'), readFileSync(join(work, `s${i - 1}.pem`), 'utf8'), `reconnect ${i} saved a new session`);
  }
});
