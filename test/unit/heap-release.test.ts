/**
 * The policy of src/heap-release.ts on an injected clock and a scripted
 * isolate: a release only after two quiet checks in a row with a grown young
 * generation, never while busy, once per busy spell, one on demand at
 * start-up, and none ever again where V8 keeps the young generation anyway or
 * refuses the request. The real V8 behind it: test/e2e/heap-release.test.ts,
 * and the last test here (this isolate's own young generation).
 */
import t from 'tap';
import { HeapRelease, v8HeapReleaseProbe, type HeapReleaseProbe } from '../../src/heap-release.js';
import { createLogger } from '../../src/log.js';
import { FakeClock } from '../helpers/fake-clock.js';

const MB = 1024 * 1024;
const CHECK_MS = 5_000;

interface Script {
  young: number;
  busy: number;
  /** What a release leaves (default 1 MB); 'keep' leaves it as it was; 'throw' refuses. */
  after: number | 'keep' | 'throw';
  releases: number;
}

function scripted(script: Script): HeapReleaseProbe {
  return {
    youngGenerationBytes: () => script.young,
    busySinceLastCall: () => script.busy,
    release: async () => {
      script.releases++;
      if (script.after === 'throw') throw new TypeError('options are not supported');
      if (script.after !== 'keep') script.young = script.after;
    },
  };
}

function setUp(partial: Partial<Script> = {}) {
  const script: Script = { young: 16 * MB, busy: 0, after: 1 * MB, releases: 0, ...partial };
  const clock = new FakeClock();
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const release = new HeapRelease({ clock, log, probe: scripted(script), checkMs: CHECK_MS });
  /** One check: the clock moves on, and the check's promise settles. */
  const check = async () => {
    clock.advance(CHECK_MS);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return { script, clock, lines, release, check };
}

t.test('two quiet checks with a grown young generation: one release, then none until it grows again', async (t) => {
  const { script, lines, release, check } = setUp();
  release.start();
  await check();
  t.equal(script.releases, 0, 'one quiet check is a pause, not quiet');
  await check();
  t.equal(script.releases, 1, 'the second quiet check releases');
  t.match(lines.at(-1), { event: 'heap_released', reason: 'quiet', youngBeforeMb: 16, youngAfterMb: 1 }, 'logged with V8 figures before and after');
  for (let i = 0; i < 6; i++) await check();
  t.equal(script.releases, 1, 'quiet on with a small young generation: nothing more');
  script.busy = 0.6;
  script.young = 16 * MB;
  await check();
  await check();
  t.equal(script.releases, 1, 'busy again: no release while the load runs, however large the young generation');
  script.busy = 0;
  await check();
  t.equal(script.releases, 1, 'the first quiet check after the load: not yet');
  await check();
  t.equal(script.releases, 2, 'the second: released again, once for this busy spell');
  release.stop();
});

t.test('a busy check in between starts the count again', async (t) => {
  const { script, release, check } = setUp();
  release.start();
  await check();
  script.busy = 0.05;
  await check();
  script.busy = 0.01;
  await check();
  t.equal(script.releases, 0, 'quiet, busy (5 % of the loop), quiet: not two quiet checks in a row');
  await check();
  t.equal(script.releases, 1, 'two in a row');
  release.stop();
});

t.test('a young generation at its starting size is left alone', async (t) => {
  const { script, release, check } = setUp({ young: 2 * MB });
  release.start();
  for (let i = 0; i < 5; i++) await check();
  t.equal(script.releases, 0, '2 MB committed: below the 4 MB worth a collection');
  await release.releaseNow('started');
  t.equal(script.releases, 0, 'nor on demand');
  release.stop();
});

t.test('on demand at start-up, whatever the load', async (t) => {
  const { script, lines, release } = setUp({ young: 64 * MB, busy: 0.9 });
  await release.releaseNow('started');
  t.equal(script.releases, 1, 'released');
  t.match(lines.at(-1), { event: 'heap_released', reason: 'started', youngBeforeMb: 64, youngAfterMb: 1 }, 'logged as a start-up release');
});

t.test('where V8 keeps the young generation, the first release says so and the checks stop', async (t) => {
  const { script, clock, lines, release, check } = setUp({ after: 'keep' });
  release.start();
  await check();
  await check();
  t.equal(script.releases, 1, 'one attempt');
  t.match(lines.at(-1), { event: 'heap_release_unsupported', youngMb: 16 }, 'logged: V8 kept it');
  t.equal(clock.pending, 0, 'no check scheduled after it');
  await release.releaseNow('started');
  t.equal(script.releases, 1, 'nor a release on demand');
});

t.test('where gc() refuses the request, nothing breaks and nothing more is asked', async (t) => {
  const { script, clock, lines, release } = setUp({ after: 'throw' });
  release.start();
  await release.releaseNow('started');
  t.equal(script.releases, 1, 'one attempt');
  t.match(lines.at(-1), { event: 'heap_release_unsupported', err: 'options are not supported' }, 'logged with the refusal');
  clock.advance(CHECK_MS * 4);
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.equal(script.releases, 1, 'no further attempt');
  release.stop();
});

t.test('stop() ends the checks', async (t) => {
  const { script, clock, release, check } = setUp();
  release.start();
  await check();
  release.stop();
  t.equal(clock.pending, 0, 'no timer left');
  await check();
  await check();
  t.equal(script.releases, 0, 'nothing released after stop');
});

t.test("this isolate's V8: a release shrinks a grown young generation (Node 22 and later)", { skip: Number(process.versions.node.split('.')[0]) < 22 ? `Node ${process.versions.node}: its V8 keeps the young generation (the policy then stops, above)` : false }, async (t) => {
  const probe = v8HeapReleaseProbe();
  // Garbage with survivors, as requests in flight are: the scavenger grows the young generation.
  let keep: unknown[] = [];
  for (let i = 0; i < 400_000 && probe.youngGenerationBytes() < 8 * MB; i++) {
    keep.push({ i, text: `request ${i}`, list: [i, i + 1, i + 2] });
    if (keep.length > 20_000) keep = [];
  }
  keep = [];
  const before = probe.youngGenerationBytes();
  t.ok(before >= 4 * MB, `the young generation grew to ${(before / MB).toFixed(1)} MB`);
  await probe.release();
  const after = probe.youngGenerationBytes();
  t.ok(after < before / 2, `and a release shrank it to ${(after / MB).toFixed(1)} MB`);
  t.ok(probe.busySinceLastCall() > 0, 'the event loop was busy meanwhile');
});
