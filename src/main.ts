#!/usr/bin/env node
/**
 * Entry point: argv → command. The only module that touches process signals.
 * Under node:cluster the same file runs as a data-plane worker.
 * Commands are imported when chosen: `ucgate check` should not pay for
 * loading the gateway, the admin server and the ACME client.
 */
import cluster from 'node:cluster';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createLogger } from './log.js';
import type { RunningGateway } from './cli/start.js';
import { VERSION } from './version.js';

const USAGE = `ucgate ${VERSION} — HTTPS gateway for Cisco UCM clusters

usage: ucgate <command> [--config FILE]

  start                       run the gateway (SIGTERM/SIGINT drain and stop, SIGHUP reloads config and certificates)
  check                       validate the configuration
  demo                        gateway + two simulated CUCM nodes on loopback
  cert status [--json]        certificates held, with days left
  cert csr [--out DIR] [--client-auth] [--key-type TYPE]
                              new key (kept in the store) + CSR per key type, for an enterprise CA
  cert import --cert FILE [--chain FILE] [--key FILE] [--passphrase-file FILE]
  cert import --pfx FILE [--passphrase-file FILE]
                              validate and activate a certificate (key defaults to the pending
                              one from cert csr); the previous one is kept
  cert rollback [--key-type TYPE]
                              serve the previous certificate again
  cert confirm-trust [--serial S | --all] [--cluster C] [--node N]
                              a CUCM server without the certificate API (12.5) now holds the pending
                              leaf, uploaded by hand: it is served after the switch delay
  cert confirm-trust --list [--out FILE] [--json]
                              what waits for that, where; --out writes the PEM to upload
  cert renew [--force] [--json]
                              renew what is due (--force: everything) with the configured issuer,
                              through a running gateway's admin API when there is one
  cert export-trust [--out FILE] [--ca | --leaf]
                              the PEM to trust: --ca the issuing root (Jabber/OS stores, default),
                              --leaf the exact leaf (CUCM Phone-trust/tomcat-trust)
  srv-records --domain DOMAIN [--address IP] [--ttl S]
                              zone-file lines that point Jabber (_cisco-uds._tcp) at the gateway
  routes [--json]             the effective routes (built-in or configured)
  routes --explain URL [--method M] [--json]
                              what the gateway does with URL: routed (cluster, route), denied (403),
                              404 or 405; for a node's URL, whether links to it are rewritten

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
    running.log.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: reloading config and certificates');
    running.primary
      .reload()
      .then(() => running.primary.reloadCertificates())
      .catch((err: Error) => running.log.error({ event: 'reload_failed', err: err.message }));
  });
}

async function main(argv: string[]): Promise<number | 'running'> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start': {
        const values = parse(rest, {});
        if (values.help) return (process.stdout.write(USAGE), 0);
        const running = await (await import('./cli/start.js')).startCommand({ config: values.config as string | undefined });
        if (typeof running === 'number') return running;
        holdUntilSignal(running);
        return 'running';
      }
      case 'check': {
        const values = parse(rest, {});
        return (await import('./cli/check.js')).checkCommand({ config: values.config as string | undefined });
      }
      case 'demo': {
        const values = parse(rest, { port: { type: 'string' }, dir: { type: 'string' } });
        const running = await (await import('./cli/demo.js')).demoCommand({ port: values.port as string | undefined, dir: values.dir as string | undefined });
        if (typeof running === 'number') return running;
        holdUntilSignal(running);
        return 'running';
      }
      case 'cert': {
        const [sub, ...subRest] = rest;
        if (sub === 'status') {
          const values = parse(subRest, { json: { type: 'boolean' } });
          return (await import('./cli/cert-status.js')).certStatusCommand({ config: values.config as string | undefined, json: values.json === true });
        }
        if (sub === 'export-trust') {
          const values = parse(subRest, { out: { type: 'string' }, leaf: { type: 'boolean' }, ca: { type: 'boolean' } });
          if (values.leaf && values.ca) return usageError('export-trust takes --ca or --leaf, not both');
          return (await import('./cli/cert-export-trust.js')).certExportTrustCommand({ config: values.config as string | undefined, out: values.out as string | undefined, leaf: values.leaf === true });
        }
        if (sub === 'csr') {
          const values = parse(subRest, { out: { type: 'string' }, 'client-auth': { type: 'boolean' }, 'key-type': { type: 'string' } });
          return (await import('./cli/cert-csr.js')).certCsrCommand({
            config: values.config as string | undefined,
            out: values.out as string | undefined,
            clientAuth: values['client-auth'] === true,
            keyType: values['key-type'] as string | undefined,
          });
        }
        if (sub === 'import') {
          const values = parse(subRest, {
            cert: { type: 'string' },
            chain: { type: 'string' },
            key: { type: 'string' },
            pfx: { type: 'string' },
            'passphrase-file': { type: 'string' },
          });
          return (await import('./cli/cert-import.js')).certImportCommand({
            config: values.config as string | undefined,
            cert: values.cert as string | undefined,
            chain: values.chain as string | undefined,
            key: values.key as string | undefined,
            pfx: values.pfx as string | undefined,
            passphraseFile: values['passphrase-file'] as string | undefined,
          });
        }
        if (sub === 'renew') {
          const values = parse(subRest, { force: { type: 'boolean' }, json: { type: 'boolean' } });
          return (await import('./cli/cert-renew.js')).certRenewCommand({ config: values.config as string | undefined, force: values.force === true, json: values.json === true });
        }
        if (sub === 'confirm-trust') {
          const values = parse(subRest, {
            serial: { type: 'string' },
            all: { type: 'boolean' },
            cluster: { type: 'string' },
            node: { type: 'string' },
            list: { type: 'boolean' },
            out: { type: 'string' },
            json: { type: 'boolean' },
          });
          return (await import('./cli/cert-confirm-trust.js')).certConfirmTrustCommand({
            config: values.config as string | undefined,
            serial: values.serial as string | undefined,
            all: values.all === true,
            cluster: values.cluster as string | undefined,
            node: values.node as string | undefined,
            list: values.list === true,
            out: values.out as string | undefined,
            json: values.json === true,
          });
        }
        if (sub === 'rollback') {
          const values = parse(subRest, { 'key-type': { type: 'string' } });
          return (await import('./cli/cert-rollback.js')).certRollbackCommand({ config: values.config as string | undefined, keyType: values['key-type'] as string | undefined });
        }
        return usageError(sub ? `unknown cert command: ${sub}` : 'cert needs a subcommand');
      }
      case 'srv-records': {
        const values = parse(rest, { domain: { type: 'string' }, address: { type: 'string' }, ttl: { type: 'string' } });
        return (await import('./cli/srv-records.js')).srvRecordsCommand({
          config: values.config as string | undefined,
          domain: values.domain as string | undefined,
          address: values.address as string | undefined,
          ttl: values.ttl as string | undefined,
        });
      }
      case 'routes': {
        const values = parse(rest, { explain: { type: 'string' }, method: { type: 'string' }, json: { type: 'boolean' } });
        return (await import('./cli/routes.js')).routesCommand({
          config: values.config as string | undefined,
          explain: values.explain as string | undefined,
          method: values.method as string | undefined,
          json: values.json === true,
        });
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
  const { runWorker } = await import('./worker/worker-process.js');
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
