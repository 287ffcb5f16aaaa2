/**
 * Which malloc a process runs on, from its mapped libraries (src/allocator.ts):
 * what `gateway_ready` reports. The gateway preloaded with jemalloc, as the
 * Docker image runs it, is test/e2e/heap-release.test.ts.
 */
import t from 'tap';
import { allocatorInUse } from '../../src/allocator.js';

const LIBC = '7f1d9a000000-7f1d9a028000 r--p 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libc.so.6';
const JEMALLOC = '7f1d9b000000-7f1d9b010000 r--p 00000000 08:01 5678 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

t.equal(allocatorInUse(() => `${LIBC}\n`), 'glibc', "glibc's libc alone: glibc's malloc");
t.equal(allocatorInUse(() => `${JEMALLOC}\n${LIBC}\n`), 'jemalloc', 'jemalloc preloaded: its malloc replaces the libc one');
t.equal(allocatorInUse(() => '7f1d9c000000-7f1d9c010000 r-xp 00000000 08:01 9 /usr/local/lib/libjemalloc.so\n'), 'jemalloc', 'a jemalloc built by hand (unversioned name): jemalloc');
t.equal(allocatorInUse(() => '7f-7f r--p 0 0:0 0 /lib/ld-musl-x86_64.so.1\n'), 'unknown', 'musl (Alpine): neither');
t.equal(allocatorInUse(() => undefined), 'unknown', 'no /proc: unknown');
t.equal(allocatorInUse(), process.platform === 'linux' ? 'glibc' : 'unknown', 'this test process: glibc (Debian, nothing preloaded)');
