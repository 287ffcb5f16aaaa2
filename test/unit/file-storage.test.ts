import t, { type Test } from 'tap';
import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync, existsSync, readFileSync, chmodSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import * as realFs from 'node:fs/promises';
import { join } from 'node:path';
import { FileStorage } from '../../src/store/file-storage.js';
import { ErrorCodes } from '../../src/errors.js';

// Modes below assume the usual umask; set it so a strict CI umask does not turn 0644 into 0600.
const oldUmask = process.umask(0o022);
t.teardown(() => process.umask(oldUmask));

const IS_ROOT = process.getuid?.() === 0;
const mode = (path: string) => statSync(path).mode & 0o777;
const tempName = (name: string) => `.${name}.0123456789ab.tmp`;

/** FileStorage whose atomic writes go through `node:fs/promises` with some functions replaced (fault injection). */
async function storageWithFs(t: Test, overrides: Partial<typeof realFs>): Promise<typeof FileStorage> {
  const atomic = await t.mockImport<typeof import('../../src/store/atomic-file.js')>('../../src/store/atomic-file.js', {
    'node:fs/promises': { ...realFs, ...overrides },
  });
  const mocked = await t.mockImport<typeof import('../../src/store/file-storage.js')>('../../src/store/file-storage.js', {
    '../../src/store/atomic-file.js': atomic,
  });
  return mocked.FileStorage;
}

async function openStore(t: Test): Promise<{ store: FileStorage; root: string; dir: string }> {
  const dir = t.testdir();
  const root = join(dir, 'store');
  return { store: await new FileStorage(root).open(), root, dir };
}

t.test('store / load / exists / delete / list', async (t) => {
  const { store, root } = await openStore(t);
  t.equal(store.root, root);
  t.equal(await store.exists('a/b/value.txt'), false);
  await store.store('a/b/value.txt', 'hello');
  await store.store('a/bin', Buffer.from([0, 1, 2, 255]));
  await store.store('top', 'x');
  t.equal((await store.load('a/b/value.txt')).toString(), 'hello');
  t.strictSame([...(await store.load('a/bin'))], [0, 1, 2, 255], 'binary values round-trip');
  t.equal(await store.exists('a/b/value.txt'), true);
  t.equal(await store.exists('a/b'), true, 'a folder exists too');
  t.strictSame(await store.list('a'), ['a/b', 'a/bin'], 'non-recursive and sorted');
  t.strictSame(await store.list(''), ['a', 'top'], 'the root');
  t.strictSame(await store.list('nope'), [], 'a missing prefix lists nothing');

  await store.store('a/b/value.txt', 'replaced');
  t.equal((await store.load('a/b/value.txt')).toString(), 'replaced');

  await store.delete('a/b/value.txt');
  t.equal(await store.exists('a/b/value.txt'), false);
  await t.resolves(store.delete('a/b/value.txt'), 'deleting a missing key is fine');
  await t.rejects(store.load('a/b/value.txt'), { code: 'ENOENT' }, 'load of a missing key: ENOENT (the Storage contract)');
  t.strictSame(readdirSync(join(root, 'a', 'b')), [], 'no stray temp files after writes');
});

t.test('append adds lines without rewriting', async (t) => {
  const { store } = await openStore(t);
  await store.append('logs/audit.jsonl', 'one\n');
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.append('logs/audit.jsonl', `line ${i}\n`)));
  const lines = (await store.load('logs/audit.jsonl')).toString().trim().split('\n');
  t.equal(lines[0], 'one');
  t.equal(lines.length, 21, 'concurrent appends all land');
});

t.test('modes: secret 0600, others 0644, folders 0700', async (t) => {
  const { store, root } = await openStore(t);
  t.equal(mode(root), 0o700, 'the store folder');
  await store.store('certs/rsa/private-key.pem', 'KEY', { secret: true });
  await store.store('certs/rsa/certificate.pem', 'CERT');
  t.equal(mode(join(root, 'certs/rsa/private-key.pem')), 0o600);
  t.equal(mode(join(root, 'certs/rsa/certificate.pem')), 0o644);
  t.equal(mode(join(root, 'certs')), 0o700, 'folders made for keys');
  t.equal(mode(join(root, 'certs/rsa')), 0o700);
  // A rewrite gets the mode of the new write, not of the file it replaces.
  await store.store('certs/rsa/certificate.pem', 'now secret', { secret: true });
  t.equal(mode(join(root, 'certs/rsa/certificate.pem')), 0o600);
  await store.store('certs/rsa/private-key.pem', 'public now');
  t.equal(mode(join(root, 'certs/rsa/private-key.pem')), 0o644);
  const nested = join(t.testdir(), 'deep', 'er', 'store');
  await new FileStorage(nested).open();
  t.equal(mode(nested), 0o700, 'a store folder created with its parents');
});

t.test('keys cannot escape the store', async (t) => {
  const { store, dir } = await openStore(t);
  writeFileSync(join(dir, 'outside'), 'do not touch');
  const escaping = ['../x', '../outside', 'a/../../x', '../store-sibling/x', 'a/b/../../../x'];
  for (const key of escaping) {
    await t.rejects(store.store(key, 'x'), { code: ErrorCodes.STORE_IO, message: /escapes the store/ }, `store ${key}`);
    await t.rejects(store.load(key), { code: ErrorCodes.STORE_IO }, `load ${key}`);
    await t.rejects(store.delete(key), { code: ErrorCodes.STORE_IO }, `delete ${key}`);
    await t.rejects(store.list(key), { code: ErrorCodes.STORE_IO }, `list ${key}`);
    await t.rejects(store.append(key, 'x'), { code: ErrorCodes.STORE_IO }, `append ${key}`);
    t.equal(await store.exists(key), false, `exists ${key} is false`);
  }
  await t.rejects(store.lock('../../x'), { code: ErrorCodes.STORE_IO }, 'lock names cannot escape either');
  t.equal(readFileSync(join(dir, 'outside'), 'utf8'), 'do not touch');
  t.strictSame(readdirSync(dir).sort(), ['outside', 'store'], 'nothing written beside the store');
  // Leading slashes and dot segments that stay inside are fine.
  await store.store('/abs/like', 'in');
  t.equal(readFileSync(join(dir, 'store', 'abs', 'like'), 'utf8'), 'in');
  await store.store('a/../b', 'in');
  t.equal(readFileSync(join(dir, 'store', 'b'), 'utf8'), 'in');
});

t.test('a key naming the store folder itself is refused without writing outside it', async (t) => {
  // Record every file the atomic write opens, to see where its temp file goes.
  const opened: string[] = [];
  const Recording = await storageWithFs(t, {
    open: (async (...args: Parameters<typeof realFs.open>) => {
      opened.push(String(args[0]));
      return realFs.open(...args);
    }) as typeof realFs.open,
  });
  const dir = t.testdir();
  const root = join(dir, 'store');
  const store = await new Recording(root).open();
  for (const key of ['', '.', 'a/..']) {
    opened.length = 0;
    await t.rejects(store.store(key, 'x'), { code: ErrorCodes.STORE_IO }, `store ${JSON.stringify(key)} refused as a store error`);
    const outside = opened.filter((path) => path !== root && !path.startsWith(root + '/'));
    t.strictSame(outside, [], `store ${JSON.stringify(key)} opens nothing outside the store`);
  }
  t.strictSame(readdirSync(dir), ['store'], 'nothing left beside the store (the failed rename removed its temp file)');
});

t.test('leftover temp files: swept by open(), never listed', async (t) => {
  const dir = t.testdir();
  const root = join(dir, 'store');
  mkdirSync(join(root, 'certs', 'rsa'), { recursive: true });
  // What a write killed between open(temp) and rename() leaves behind.
  writeFileSync(join(root, tempName('active')), 'torn');
  writeFileSync(join(root, 'certs', 'rsa', tempName('private-key.pem')), 'torn');
  writeFileSync(join(root, 'certs', 'rsa', 'certificate.pem'), 'kept');
  // Names that only look similar are real keys and stay.
  const lookalikes = ['.active.0123456789AB.tmp', '.x.0123.tmp', 'x.0123456789ab.tmp', '.x.0123456789ab.tmp.bak'];
  for (const name of lookalikes) writeFileSync(join(root, name), 'kept');

  const before = new FileStorage(root);
  t.strictSame(await before.list('certs/rsa'), ['certs/rsa/certificate.pem'], 'not listed even before the sweep');
  t.notOk((await before.list('')).includes(tempName('active')));

  await new FileStorage(root).open();
  t.notOk(existsSync(join(root, tempName('active'))), 'swept at the root');
  t.notOk(existsSync(join(root, 'certs', 'rsa', tempName('private-key.pem'))), 'swept in sub-folders');
  t.equal(readFileSync(join(root, 'certs', 'rsa', 'certificate.pem'), 'utf8'), 'kept');
  for (const name of lookalikes) t.ok(existsSync(join(root, name)), `${name} kept`);
});

t.test('a temp file of a writer still running is left alone; one of a dead writer is swept', async (t) => {
  const dir = t.testdir();
  const root = join(dir, 'store');
  mkdirSync(root, { recursive: true });
  // Another process mid-write (this test process stands in for it: alive, not the sweeper's own pid in spirit).
  const parentPid = process.ppid;
  const live = `.active.0123456789ab.p${parentPid}.tmp`;
  // A pid that exited: a child that has run to completion.
  const { spawnSync } = await import('node:child_process');
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout.trim();
  const dead = `.active.abcdef012345.p${gone}.tmp`;
  writeFileSync(join(root, live), 'being written');
  writeFileSync(join(root, dead), 'torn');
  await new FileStorage(root).open();
  t.ok(existsSync(join(root, live)), 'the live writer keeps its temp file (a CLI opening the store beside the gateway)');
  t.notOk(existsSync(join(root, dead)), 'a dead writer\'s temp file is swept');
});

t.test('a failed write leaves the old value intact and no temp file', async (t) => {
  t.test('on the real filesystem', async (t) => {
    const { store, root } = await openStore(t);
    await store.store('certs/active', 'old serial\n');
    if (!IS_ROOT) {
      // A read-only folder: the temp file cannot even be created.
      chmodSync(join(root, 'certs'), 0o500);
      t.teardown(() => chmodSync(join(root, 'certs'), 0o700));
      await t.rejects(store.store('certs/active', 'new serial\n'), { code: 'EACCES' });
      chmodSync(join(root, 'certs'), 0o700);
      t.equal((await store.load('certs/active')).toString(), 'old serial\n');
    } else {
      // Root ignores folder permissions, so chmod 0500 proves nothing here. Make the
      // write itself impossible instead: the target is a folder, so the final rename fails
      // after the temp file has been written and synced.
      t.comment('running as root: a folder in place of the target stands in for a read-only folder');
      mkdirSync(join(root, 'certs', 'blocked', 'child'), { recursive: true });
      await t.rejects(store.store('certs/blocked', 'new'), { code: /^(EISDIR|ENOTEMPTY|EEXIST)$/ });
      t.ok(statSync(join(root, 'certs', 'blocked')).isDirectory(), 'the folder is still there');
      // And a file where a folder should be: the folder for the temp file cannot be made.
      await t.rejects(store.store('certs/active/nested', 'new'), { code: /^(ENOTDIR|EEXIST)$/ });
      t.equal((await store.load('certs/active')).toString(), 'old serial\n', 'the file in the way is untouched');
    }
    t.strictSame(readdirSync(join(root, 'certs')).filter((name) => name.endsWith('.tmp')), [], 'no temp file left');
  });

  t.test('rename fails after the new value is on disk (injected fault, any user)', async (t) => {
    const Mocked = await storageWithFs(t, {
      rename: async () => {
        throw Object.assign(new Error('EACCES: permission denied, rename'), { code: 'EACCES' });
      },
    });
    const root = join(t.testdir(), 'store');
    const real = await new FileStorage(root).open();
    await real.store('certs/active', 'old serial\n');
    const faulty = await new Mocked(root).open();
    await t.rejects(faulty.store('certs/active', 'new serial\n'), { code: 'EACCES' });
    t.equal((await real.load('certs/active')).toString(), 'old serial\n');
    t.strictSame(readdirSync(join(root, 'certs')), ['active'], 'temp file removed');
  });

  t.test('the data write fails midway (injected fault)', async (t) => {
    const Mocked = await storageWithFs(t, {
      open: async (...args: Parameters<typeof realFs.open>) => {
        const handle = await realFs.open(...args);
        if (String(args[0]).endsWith('.tmp')) {
          handle.writeFile = async () => {
            await realFs.appendFile(String(args[0]), 'partial');
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          };
        }
        return handle;
      },
    });
    const root = join(t.testdir(), 'store');
    const real = await new FileStorage(root).open();
    await real.store('certs/active', 'old serial\n');
    await t.rejects(new Mocked(root).store('certs/active', 'new serial\n'), { code: 'ENOSPC' });
    t.equal((await real.load('certs/active')).toString(), 'old serial\n');
    t.strictSame(readdirSync(join(root, 'certs')), ['active'], 'temp file removed');
  });
});

t.test('lock()', async (t) => {
  const settled = <T>(promise: Promise<T>) => {
    const state = { done: false };
    void promise.then(() => (state.done = true));
    return state;
  };
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  t.test('two concurrent lock() calls on one name serialise', async (t) => {
    const { store, root } = await openStore(t);
    const order: string[] = [];
    const worker = async (label: string) => {
      const release = await store.lock('issue-rsa-2048');
      order.push(`${label}+`);
      await turns(5);
      order.push(`${label}-`);
      await release();
    };
    await Promise.all([worker('a'), worker('b'), worker('c')]);
    t.strictSame(order, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    t.notOk(existsSync(join(root, 'locks', 'issue-rsa-2048.lock')), 'lock file removed on release');
  });

  t.test('the lock file exists while held, 0600, with our pid; other names are independent', async (t) => {
    const { store, root } = await openStore(t);
    const release = await store.lock('one');
    const file = join(root, 'locks', 'one.lock');
    t.equal(readFileSync(file, 'utf8'), `${process.pid}@${hostname()}`, 'pid@host: a waiter on this host can tell a dead holder');
    t.equal(mode(file), 0o600);
    const second = store.lock('one');
    const state = settled(second);
    const other = await store.lock('two');
    await other();
    await turns(10);
    t.equal(state.done, false, 'the same name waits');
    await release();
    const releaseSecond = await second;
    t.ok(existsSync(file), 'now held by the second caller');
    await releaseSecond();
  });

  t.test('two stores on one folder (two processes) exclude each other through the lock file', async (t) => {
    const { store, root } = await openStore(t);
    const other = await new FileStorage(root).open();
    const release = await store.lock('ca');
    const pending = other.lock('ca');
    const state = settled(pending);
    // The other store polls every 100 ms on the real timer; give it two polls.
    await new Promise((resolve) => setTimeout(resolve, 250));
    t.equal(state.done, false, 'a fresh lock file is respected');
    await release();
    const releaseOther = await pending;
    t.pass('acquired once released');
    await releaseOther();
  });

  t.test('a stale lock file (older than 10 minutes) is taken over', async (t) => {
    const { store, root } = await openStore(t);
    mkdirSync(join(root, 'locks'), { recursive: true });
    const file = join(root, 'locks', 'issue-rsa-2048.lock');
    writeFileSync(file, '999999');
    const elevenMinutesAgo = new Date(Date.now() - 11 * 60_000);
    utimesSync(file, elevenMinutesAgo, elevenMinutesAgo);
    const release = await store.lock('issue-rsa-2048');
    t.equal(readFileSync(file, 'utf8'), `${process.pid}@${hostname()}`, 'the lock is ours now');
    await release();
  });

  t.test('a lock file that turns stale while waiting is taken over', async (t) => {
    const { store, root } = await openStore(t);
    mkdirSync(join(root, 'locks'), { recursive: true });
    const file = join(root, 'locks', 'x.lock');
    writeFileSync(file, '999999');
    const pending = store.lock('x');
    const state = settled(pending);
    await turns(10);
    t.equal(state.done, false, 'waiting on a fresh lock');
    const old = new Date(Date.now() - 11 * 60_000);
    utimesSync(file, old, old);
    const release = await pending;
    t.equal(readFileSync(file, 'utf8'), `${process.pid}@${hostname()}`);
    await release();
  });

  // A `cert import` killed with SIGKILL mid-write leaves its lock file: renewals and the next import must not wait 10 minutes.
  t.test('a lock file whose holder on this host is gone is taken over at once', async (t) => {
    const { store, root } = await openStore(t);
    mkdirSync(join(root, 'locks'), { recursive: true });
    const file = join(root, 'locks', 'issue-rsa-2048.lock');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(file, `${gone}@${hostname()}`);
    const started = Date.now();
    const release = await store.lock('issue-rsa-2048');
    t.ok(Date.now() - started < 5_000, `taken over without waiting (${Date.now() - started} ms)`);
    t.equal(readFileSync(file, 'utf8'), `${process.pid}@${hostname()}`);
    await release();
  });

  t.test('a live holder, a holder on another host, and an empty lock file are waited for', async (t) => {
    const { store, root } = await openStore(t);
    mkdirSync(join(root, 'locks'), { recursive: true });
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const holders: [string, string][] = [
      ['live', `${process.ppid}@${hostname()}`],
      ['elsewhere', `${gone}@not-${hostname()}`],
      ['empty', ''],
    ];
    for (const [name, content] of holders) writeFileSync(join(root, 'locks', `${name}.lock`), content);
    const pending = holders.map(([name]) => store.lock(name));
    const states = pending.map(settled);
    // Two polls (100 ms each) on the real timer.
    await new Promise((resolve) => setTimeout(resolve, 250));
    t.same(states.map((state) => state.done), [false, false, false], 'none taken over');
    for (const [name] of holders) rmSync(join(root, 'locks', `${name}.lock`));
    for (const release of await Promise.all(pending)) await release();
  });
});
