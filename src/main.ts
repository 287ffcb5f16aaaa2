#!/usr/bin/env node
/**
 * Entry point: argv → command. The only module that touches process signals.
 * Under node:cluster the same file runs as a data-plane worker.
 */
import cluster from 'node:cluster';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createLogger } from './log.js';
import { runWorker } from './worker/worker-process.js';
import { checkCommand } from './cli/check.js';
import { startCommand, type RunningGateway } from './cli/start.js';
import { certStatusCommand } from './cli/cert-status.js';
import { certExportTrustCommand } from './cli/cert-export-trust.js';
import { demoCommand } from './cli/demo.js';
import { VERSION } from './version.js';

const USAGE = `ucgate ${VERSION} — HTTPS gateway for Cisco UCM clusters

usage: ucgate <command> [--config FILE]

  start                       run the gateway (SIGTERM/SIGINT drain and stop, SIGHUP reloads certificates)
  check                       validate the configuration
  demo                        gateway + two simulated CUCM nodes on loopback
  cert status [--json]        certificates held, with days left
  cert export-trust [--out FILE] [--leaf]
                              the PEM clients and CUCM must trust (CA by default, or the leaf)

The configuration defaults to config/ucgate.yaml ($UCGATE_CONFIG overrides).
Exit codes: 0 ok, 1 runtime failure, 2 bad input.
`;

const COMMON = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

function parse<T extends ParseArgsConfig['options']>(args: string[], options: T) {
  return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
}

function usageError(message: string): number {
  process.stderr.write(`ucgate: ${message}\n\n${USAGE}`);
  return 2;
}

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
    running.log.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: reloading certificates');
    running.primary.certificates.ensure().catch((err: Error) => running.log.error({ event: 'reload_failed', err: err.message }));
  });
}

async function main(argv: string[]): Promise<number | 'running'> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start': {
        const values = parse(rest, {});
        if (values.help) return (process.stdout.write(USAGE), 0);
        const running = await startCommand({ config: values.config as string | undefined });
        if (typeof running === 'number') return running;
        holdUntilSignal(running);
        return 'running';
      }
      case 'check': {
        const values = parse(rest, {});
        return checkCommand({ config: values.config as string | undefined });
      }
      case 'demo': {
        const values = parse(rest, { port: { type: 'string' }, dir: { type: 'string' } });
        const running = await demoCommand({ port: values.port as string | undefined, dir: values.dir as string | undefined });
        if (typeof running === 'number') return running;
        holdUntilSignal(running);
        return 'running';
      }
      case 'cert': {
        const [sub, ...subRest] = rest;
        if (sub === 'status') {
          const values = parse(subRest, { json: { type: 'boolean' } });
          return certStatusCommand({ config: values.config as string | undefined, json: values.json === true });
        }
        if (sub === 'export-trust') {
          const values = parse(subRest, { out: { type: 'string' }, leaf: { type: 'boolean' } });
          return certExportTrustCommand({ config: values.config as string | undefined, out: values.out as string | undefined, leaf: values.leaf === true });
        }
        return usageError(sub ? `unknown cert command: ${sub}` : 'cert needs a subcommand');
      }
      case 'version':
      case '--version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        return usageError(`unknown command: ${command}`);
    }
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usageError((err as Error).message);
    throw err;
  }
}

if (cluster.isWorker) {
  const log = createLogger({ level: process.env.UCGATE_LOG_LEVEL ?? 'info', base: { role: 'worker', worker: cluster.worker?.id } });
  const worker = runWorker(log);
  // Ctrl-C reaches the whole process group; the primary coordinates the drain, so both signals only start it here.
  process.on('SIGINT', () => worker.shutdown(10_000));
  process.on('SIGTERM', () => worker.shutdown(10_000));
  void worker.finished.then(() => process.exit(0));
} else {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== 'running') process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`ucgate: ${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    },
  );
}
