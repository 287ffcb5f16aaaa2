import t, { type Test } from 'tap';
import * as realFs from 'node:fs/promises';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../../src/store/atomic-file.js';

const oldUmask = process.umask(0o022);
t.teardown(() => process.umask(oldUmask));

const mode = (path: string) => statSync(path).mode & 0o777;

interface FsCall {
  readonly fn: string;
  readonly path: string;
}

/** writeFileAtomic over a node:fs/promises that records calls, with optional faults. */
async function recorded(t: Test, faults: { rename?: Error } = {}) {
  const calls: FsCall[] = [];
  const fs = {
    ...realFs,
    open: (async (...args: Parameters<typeof realFs.open>) => {
      calls.push({ fn: `open:${String(args[1])}`, path: String(args[0]) });
      const handle = await realFs.open(...args);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        calls.push({ fn: 'sync', path: String(args[0]) });
        return sync();
      };
      return handle;
    }) as typeof realFs.open,
    rename: async (from: string, to: string) => {
      calls.push({ fn: 'rename', path: `${from} -> ${to}` });
      if (faults.rename) throw faults.rename;
      return realFs.rename(from, to);
    },
    unlink: async (path: string) => {
      calls.push({ fn: 'unlink', path });
      return realFs.unlink(path);
    },
  };
  const mod = await t.mockImport<typeof import('../../src/store/atomic-file.js')>('../../src/store/atomic-file.js', { 'node:fs/promises': fs });
  return { write: mod.writeFileAtomic, calls };
}

t.test('write, modes and parent folders', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'a', 'b', 'secret.pem');
  await writeFileAtomic(file, 'KEY', 0o600);
  t.equal(readFileSync(file, 'utf8'), 'KEY');
  t.equal(mode(file), 0o600);
  t.equal(mode(join(dir, 'a')), 0o700, 'folders it makes are private');
  t.equal(mode(join(dir, 'a', 'b')), 0o700);
  await writeFileAtomic(file, Buffer.from('PUBLIC'), 0o644);
  t.equal(readFileSync(file, 'utf8'), 'PUBLIC');
  t.equal(mode(file), 0o644, 'the new file carries the new mode');
  t.strictSame(readdirSync(join(dir, 'a', 'b')), ['secret.pem'], 'no temp file left');
});

t.test('write → fsync → rename → fsync(dir), with a temp name the sweep recognises', async (t) => {
  const { write, calls } = await recorded(t);
  const dir = t.testdir();
  const file = join(dir, 'active');
  await write(file, 'serial\n', 0o644);
  const temp = calls[0]!.path;
  t.match(basename(temp), new RegExp(`^\\.active\\.[0-9a-f]{12}\\.p${process.pid}\\.tmp$`), 'temp file beside the target, hidden, 12 hex digits and the writer\'s pid');
  t.equal(join(dir, basename(temp)), temp, 'in the same folder (rename stays on one filesystem)');
  t.strictSame(
    calls.map((c) => c.fn),
    ['open:wx', 'sync', 'rename', 'open:r', 'sync'],
  );
  t.equal(calls[2]!.path, `${temp} -> ${file}`);
  t.equal(calls[3]!.path, dir, 'the folder is synced after the rename');
});

t.test('a failing rename removes the temp file and keeps the old value', async (t) => {
  const { write, calls } = await recorded(t, { rename: Object.assign(new Error('EXDEV'), { code: 'EXDEV' }) });
  const dir = t.testdir();
  const file = join(dir, 'active');
  writeFileSync(file, 'old\n');
  await t.rejects(write(file, 'new\n', 0o644), { code: 'EXDEV' });
  t.equal(readFileSync(file, 'utf8'), 'old\n');
  t.strictSame(readdirSync(dir), ['active']);
  t.equal(calls.at(-1)!.fn, 'unlink');
});

t.test('a target that is a folder fails cleanly (real filesystem)', async (t) => {
  const dir = t.testdir({ target: { child: 'x' } });
  await t.rejects(writeFileAtomic(join(dir, 'target'), 'new', 0o644));
  t.strictSame(readdirSync(dir), ['target'], 'no temp file left');
  t.equal(readFileSync(join(dir, 'target', 'child'), 'utf8'), 'x');
});

t.test('concurrent writers: the last rename wins, the file is never torn', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'value');
  const values = Array.from({ length: 20 }, (_, i) => `value-${i}-`.repeat(1000));
  await Promise.all(values.map((value) => writeFileAtomic(file, value, 0o644)));
  t.ok(values.includes(readFileSync(file, 'utf8')), 'one whole value');
  t.strictSame(readdirSync(dir), ['value']);
});
