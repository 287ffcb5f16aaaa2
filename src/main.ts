#!/usr/bin/env node
/**
 * Entry point: argv → command. The only module that touches process signals.
 * Under node:cluster the same file runs as a data-plane worker.
 *
 * Commands live in one table, src/cli/commands.ts: to add a command (or an
 * option), add its entry there — help, shell completion and argv validation
 * all come from that table. src/cli/dispatch.ts parses argv against it
 * before any command module is loaded, so `--help` never acts.
 */
import cluster from 'node:cluster';
import { createLogger, resolveLogFormat } from './log.js';
import type { RunningGateway } from './cli/start.js';

function holdUntilSignal(running: RunningGateway): void {
  const stop = (signal: string) => {
    running.log.info({ event: 'signal', signal }, `${signal}: graceful stop`);
    running.primary.stop().then(
      () => process.exit(0),
      (err: Error) => {
        running.log.error({ event: 'stop_failed', err: err.message });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    running.log.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: reloading config and certificates');
    running.primary
      .reload()
      .then(() => running.primary.reloadCertificates())
      .catch((err: Error) => running.log.error({ event: 'reload_failed', err: err.message }));
  });
}

/**
 * `ucgate cert status | head`: the reader went away. Output nobody reads is
 * dropped quietly (no stack trace) and the command finishes as it would have
 * — a renewal is not cut off half-way because its reader left — so a
 * command that succeeded still exits 0.
 */
function quietOnClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      if (stream === process.stdout) process.stderr.write(`ucgate: stdout: ${err.message}\n`);
      process.exitCode = 1;
    });
  }
}

// Test-only (see memory-probe.ts): loaded only when asked for, so a gateway never carries it.
if (process.env.UCGATE_MEMORY_PROBE_DIR) {
  const { probeOnSignal } = await import('./debug/memory-probe.js');
  probeOnSignal(process.env.UCGATE_MEMORY_PROBE_DIR);
}

if (cluster.isWorker) {
  const { runWorker } = await import('./worker/worker-process.js');
  const log = createLogger({ level: process.env.UCGATE_LOG_LEVEL ?? 'info', format: resolveLogFormat(process.env.UCGATE_LOG_FORMAT || undefined), base: { role: 'worker', worker: cluster.worker?.id } });
  const worker = runWorker(log);
  // Ctrl-C reaches the whole process group; the primary coordinates the drain, so both signals only start it here.
  process.on('SIGINT', () => worker.shutdown(10_000));
  process.on('SIGTERM', () => worker.shutdown(10_000));
  void worker.finished.then(() => process.exit(0));
} else {
  quietOnClosedPipes();
  const { dispatch } = await import('./cli/dispatch.js');
  dispatch(process.argv.slice(2)).then(
    (result) => {
      if (typeof result === 'number') process.exitCode = result;
      else holdUntilSignal(result);
    },
    (err: Error) => {
      process.stderr.write(`ucgate: ${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    },
  );
}
