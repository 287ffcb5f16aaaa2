import t from 'tap';
import { workerExecArgv } from '../../src/control/worker-pool.js';

t.test('workers get a capped young generation after the primary\'s own flags', async (t) => {
  t.same(workerExecArgv(['--import', 'tsx']), ['--import', 'tsx', '--max-semi-space-size=8']);
  t.same(workerExecArgv([]), ['--max-semi-space-size=8']);
});

t.test('an operator\'s own semi-space size wins, from the command line or NODE_OPTIONS', async (t) => {
  t.same(workerExecArgv(['--max-semi-space-size=64']), ['--max-semi-space-size=64']);
  t.same(workerExecArgv(['--enable-source-maps'], '--max_semi_space_size=2 --trace-gc'), ['--enable-source-maps']);
  t.same(workerExecArgv([], '--max-old-space-size=512'), ['--max-semi-space-size=8']);
});
