/**
 * The one table of ucgate's commands: name, options, help text and what runs.
 * Help (`--help`), shell completion (`ucgate completion bash|zsh`) and argv
 * validation (unknown options exit 2) are all derived from it, so they
 * cannot drift from what the commands accept.
 *
 * To add a command: one entry here (or under a group's `subcommands`). Its
 * `run` imports the command's module when chosen: `ucgate check` should not
 * pay for loading the gateway, the admin server and the ACME client, and
 * `--help` must never get as far as `run` (help is answered before any
 * config is read or anything is touched).
 */
import type { RunningGateway } from './start.js';

export type OptionValue = string | boolean | undefined;

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder for a string option's value in help: FILE, DIR, N... */
  readonly value?: string;
  readonly help: string;
  /** What a shell offers after the option: a list of values, file names or folders. */
  readonly complete?: readonly string[] | 'file' | 'dir';
}

export interface ArgSpec {
  /** As shown in help: NAME, SHELL... */
  readonly name: string;
  readonly help: string;
  readonly optional?: boolean;
  /** The last argument only: takes every remaining word (`help cert renew`). */
  readonly repeats?: boolean;
  readonly complete?: readonly string[];
}

/** What a command's `run` receives: parsed options and positional arguments. */
export interface CommandInput {
  readonly values: Readonly<Record<string, OptionValue>>;
  readonly args: readonly string[];
  /** Reports bad input in the CLI's own words (`ucgate cert x: ... (see --help)`) and returns exit code 2. */
  usageError(message: string): number;
}

export interface CommandSpec {
  readonly name: string;
  /** One line, shown in listings and at the top of the command's help. */
  readonly summary: string;
  /** Synopsis forms after `ucgate <path>`; default: built from the options and arguments. */
  readonly synopsis?: readonly string[];
  /** A paragraph of help below the synopsis. */
  readonly description?: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  readonly args?: readonly ArgSpec[];
  /** False for commands that never read the config file (help then does not list --config). */
  readonly readsConfig?: boolean;
  /** Exit code lines; default {@link DEFAULT_EXIT_CODES}. */
  readonly exitCodes?: readonly string[];
  /** A group (`cert`): its subcommands; a group has no `run`. */
  readonly subcommands?: readonly CommandSpec[];
  readonly run?: (input: CommandInput) => Promise<number | RunningGateway>;
}

export const DEFAULT_EXIT_CODES: readonly string[] = ['0  ok', '1  runtime failure', '2  bad input (unknown option, invalid configuration)'];

/** Accepted by every command. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', value: 'FILE', help: 'configuration file (default config/ucgate.yaml; $UCGATE_CONFIG overrides)', complete: 'file' },
  help: { type: 'boolean', short: 'h', help: 'print this help and exit, doing nothing else' },
};

export const KEY_TYPES = ['rsa-2048', 'rsa-3072', 'ecdsa-p256'] as const;

const str = (value: OptionValue): string | undefined => (typeof value === 'string' ? value : undefined);
const config = (values: CommandInput['values']) => str(values.config);

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'start',
    summary: 'run the gateway',
    description:
      'Runs the gateway in the foreground, JSON logs (pino) on stdout. SIGTERM/SIGINT: stop accepting, drain in-flight ' +
      'requests, exit 0. SIGHUP: reload the configuration and certificates without dropping connections.',
    exitCodes: ['0  stopped by SIGTERM/SIGINT after draining', '1  could not start (a port in use, no certificate)', '2  bad input (unknown option, invalid configuration)'],
    run: async ({ values }) => (await import('./start.js')).startCommand({ config: config(values) }),
  },
  {
    name: 'check',
    summary: 'validate the configuration',
    description:
      'Reads and validates the configuration like `nginx -t`: exit 0 with a one-line summary (warnings on stderr: what `start` ' +
      'would warn about, certificates near expiry or lacking a configured name included), or exit 2 with one ' +
      '`FILE:LINE:COL path.to.key: message` line per problem. `start` refuses a bad configuration the same way.',
    options: { print: { type: 'boolean', help: 'print the effective configuration as YAML (defaults filled in, secrets masked)' } },
    exitCodes: ['0  valid', '2  bad input (unknown option, invalid or unreadable configuration)'],
    run: async ({ values }) => (await import('./check.js')).checkCommand({ config: config(values), print: values.print === true }),
  },
  {
    name: 'demo',
    summary: 'gateway + two simulated CUCM nodes on loopback',
    description:
      'The gateway in front of a simulated CUCM cluster (publisher and subscriber), all on 127.0.0.1, with a locally issued ' +
      'certificate, and lines to paste to try it. Type `stop pub`, `start pub`, `hang pub`, `normal pub` to watch failover; ' +
      'Ctrl-C stops everything. Reads no configuration file.',
    readsConfig: false,
    options: {
      port: { type: 'string', value: 'N', help: 'gateway HTTPS port (default 8443; 0 = any free port)' },
      'admin-port': { type: 'string', value: 'N', help: 'admin listener (dashboard) port (default 9000; 0 with --port 0)' },
      dir: { type: 'string', value: 'DIR', help: 'folder for the demo certificates and the session token (default certs/demo)', complete: 'dir' },
    },
    exitCodes: ['0  stopped by Ctrl-C/SIGTERM', '1  could not start (e.g. the port is in use: try --port 0)', '2  bad input'],
    run: async ({ values }) => (await import('./demo.js')).demoCommand({ port: str(values.port), adminPort: str(values['admin-port']), dir: str(values.dir) }),
  },
  {
    name: 'cert',
    summary: 'certificates: status, CSR, import, renew, rollback, trust for CUCM',
    subcommands: [
      {
        name: 'status',
        summary: 'every certificate held or watched, with days left',
        description:
          'Name, subject, SANs, issuer, key type, validity, days left, source and serial of the gateway certificates in the store ' +
          'and the local CA, the renewal state and history, and what is published to CUCM trust stores. Changes nothing.',
        options: { json: { type: 'boolean', help: 'print JSON' } },
        run: async ({ values }) => (await import('./cert-status.js')).certStatusCommand({ config: config(values), json: values.json === true }),
      },
      {
        name: 'csr',
        summary: 'a new key (kept in the store, 0600) and a PKCS#10 CSR per key type, for an enterprise CA',
        description:
          'For gateway.fqdn and gateway.altNames. The key waits in the store until `cert import` brings its certificate; a second ' +
          '`cert csr` replaces a pending key (a certificate for the older CSR then needs --key). Prints the CSR paths.',
        options: {
          out: { type: 'string', value: 'DIR', help: 'folder for the CSR files (default: the working directory)', complete: 'dir' },
          'client-auth': { type: 'boolean', help: 'ask for clientAuth as well as serverAuth (extended key usage)' },
          'key-type': { type: 'string', value: 'TYPE', help: `only this key type (default: every one in certificates.keyTypes): ${KEY_TYPES.join(' | ')}`, complete: KEY_TYPES },
        },
        run: async ({ values }) =>
          (await import('./cert-csr.js')).certCsrCommand({
            config: config(values),
            out: str(values.out),
            clientAuth: values['client-auth'] === true,
            keyType: str(values['key-type']),
          }),
      },
      {
        name: 'import',
        summary: 'validate and activate a certificate atomically (the previous one is kept)',
        synopsis: ['--cert FILE [--chain FILE] [--key FILE] [--passphrase-file FILE]', '--pfx FILE [--passphrase-file FILE]'],
        description:
          'Checks that the key matches, the SANs cover gateway.fqdn, the chain builds and nothing is expired, then activates it ' +
          'atomically. The key defaults to the pending one from `cert csr`. On any problem: exit 2, a one-line reason, nothing changed. ' +
          'A running gateway that answers on listen.admin serves it at once; else it is served at the next start (or SIGHUP). ' +
          'Nothing renews an imported certificate: import again before it expires.',
        options: {
          cert: { type: 'string', value: 'FILE', help: 'the certificate (PEM)', complete: 'file' },
          chain: { type: 'string', value: 'FILE', help: 'intermediate CA certificates (PEM)', complete: 'file' },
          key: { type: 'string', value: 'FILE', help: 'its private key (PEM; default: the pending key from cert csr)', complete: 'file' },
          pfx: { type: 'string', value: 'FILE', help: 'certificate, chain and key in one PKCS#12 file', complete: 'file' },
          'passphrase-file': { type: 'string', value: 'FILE', help: 'file holding the passphrase of the key or PKCS#12', complete: 'file' },
        },
        exitCodes: ['0  imported (or already active)', '1  runtime failure', '2  refused (bad input or a certificate that does not fit); nothing changed'],
        run: async ({ values }) =>
          (await import('./cert-import.js')).certImportCommand({
            config: config(values),
            cert: str(values.cert),
            chain: str(values.chain),
            key: str(values.key),
            pfx: str(values.pfx),
            passphraseFile: str(values['passphrase-file']),
          }),
      },
      {
        name: 'renew',
        summary: 'renew what is due (--force: everything) with the configured issuer',
        description:
          'Through a running gateway\'s admin API when one answers (its listener certificate pinned against the store), else in ' +
          'this process against the store. Without --force only what is due or failing is renewed. Each step is printed on stderr ' +
          'as it happens. An imported certificate is never replaced by another issuer\'s unless asked with --force --issuer TYPE.',
        options: {
          force: { type: 'boolean', help: 'renew every key type now, due or not' },
          issuer: { type: 'string', value: 'TYPE', help: 'with --force: replace an imported certificate with this issuer\'s (the configured one): self-signed | acme', complete: ['self-signed', 'acme'] },
          json: { type: 'boolean', help: 'print only the outcome, as JSON' },
        },
        exitCodes: ['0  renewed, or nothing due', '1  a renewal failed', '2  bad input (unknown option, invalid configuration, issuer manual)'],
        run: async ({ values }) =>
          (await import('./cert-renew.js')).certRenewCommand({ config: config(values), force: values.force === true, json: values.json === true, issuer: str(values.issuer) }),
      },
      {
        name: 'rollback',
        summary: 'serve the previous certificate again (a second rollback undoes the first)',
        description: 'A running gateway that answers on listen.admin serves it at once; else it is served at the next start (or SIGHUP).',
        options: {
          'key-type': { type: 'string', value: 'TYPE', help: `the key type to roll back (needed when there are several): ${KEY_TYPES.join(' | ')}`, complete: KEY_TYPES },
        },
        exitCodes: ['0  rolled back', '1  runtime failure (no previous certificate)', '2  bad input'],
        run: async ({ values }) => (await import('./cert-rollback.js')).certRollbackCommand({ config: config(values), keyType: str(values['key-type']) }),
      },
      {
        name: 'export-trust',
        summary: 'the PEM to trust: the issuing CA (Jabber, OS stores) or the exact leaf (CUCM)',
        options: {
          out: { type: 'string', value: 'FILE', help: 'write the PEM to FILE (default: stdout)', complete: 'file' },
          ca: { type: 'boolean', help: 'the issuing root, for Jabber, OS stores, curl (the default)' },
          leaf: { type: 'boolean', help: 'the leaf of every key type, for CUCM Phone-trust / tomcat-trust' },
        },
        run: async ({ values, usageError }) => {
          if (values.leaf && values.ca) return usageError('--ca or --leaf, not both');
          return (await import('./cert-export-trust.js')).certExportTrustCommand({ config: config(values), out: str(values.out), leaf: values.leaf === true });
        },
      },
      {
        name: 'confirm-trust',
        summary: 'a CUCM server without the certificate API (12.5) now holds the pending leaf, uploaded by hand',
        synopsis: ['[--serial S | --all] [--cluster C] [--node N]', '--list [--out FILE] [--json]'],
        description:
          'The leaf is then served after the switch delay. --list shows what waits for that, where; --out writes the PEM to upload ' +
          '(OS Administration > Security > Certificate Management > Upload Certificate).',
        options: {
          serial: { type: 'string', value: 'S', help: 'the pending leaf to confirm, by serial' },
          all: { type: 'boolean', help: 'confirm every pending leaf' },
          cluster: { type: 'string', value: 'C', help: 'only for this cluster' },
          node: { type: 'string', value: 'N', help: 'only for this node' },
          list: { type: 'boolean', help: 'list what waits for a confirmation, changing nothing' },
          out: { type: 'string', value: 'FILE', help: 'with --list: write the PEM to upload to FILE', complete: 'file' },
          json: { type: 'boolean', help: 'print JSON' },
        },
        run: async ({ values }) =>
          (await import('./cert-confirm-trust.js')).certConfirmTrustCommand({
            config: config(values),
            serial: str(values.serial),
            all: values.all === true,
            cluster: str(values.cluster),
            node: str(values.node),
            list: values.list === true,
            out: str(values.out),
            json: values.json === true,
          }),
      },
    ],
  },
  {
    name: 'node',
    summary: 'node maintenance on the running gateway: drain a node before a CUCM upgrade, undrain it after',
    subcommands: [
      {
        name: 'drain',
        summary: 'no new requests or sessions for a node; its sticky sessions finish there, then it is idle',
        description:
          'Through the running gateway\'s admin API (listen.admin; its certificate pinned against the store). The gateway keeps ' +
          'the state across reloads and restarts, shows it in status, the dashboard and ucgate_upstream_node_draining, and ' +
          'writes it to the audit log. NAME alone is enough when one cluster has a node of that name.',
        args: [{ name: 'CLUSTER/NAME', help: 'the node, e.g. cucm/pub' }],
        options: {
          reason: { type: 'string', value: 'TEXT', help: 'why (a change ticket, "CUCM 15 SU2"): shown on the dashboard and kept in the audit log' },
          json: { type: 'boolean', help: 'print the gateway\'s answer as JSON' },
        },
        exitCodes: ['0  drained (or already was)', '1  no running gateway answered', '2  bad input (no such node, unknown option)'],
        run: async ({ values, args }) =>
          (await import('./node-drain.js')).nodeDrainCommand({ config: config(values), target: args[0]!, draining: true, reason: str(values.reason), json: values.json === true }),
      },
      {
        name: 'undrain',
        summary: 'the node takes new requests again',
        args: [{ name: 'CLUSTER/NAME', help: 'the node, e.g. cucm/pub' }],
        options: { json: { type: 'boolean', help: 'print the gateway\'s answer as JSON' } },
        exitCodes: ['0  undrained (or was not drained)', '1  no running gateway answered', '2  bad input (no such node, unknown option)'],
        run: async ({ values, args }) => (await import('./node-drain.js')).nodeDrainCommand({ config: config(values), target: args[0]!, draining: false, json: values.json === true }),
      },
      {
        name: 'list',
        summary: 'every node with its state, draining, requests in flight and per second',
        options: { json: { type: 'boolean', help: 'print JSON' } },
        exitCodes: ['0  printed', '1  no running gateway answered', '2  bad input'],
        run: async ({ values }) => (await import('./node-drain.js')).nodeListCommand({ config: config(values), json: values.json === true }),
      },
    ],
  },
  {
    name: 'srv-records',
    summary: 'zone-file lines that point Jabber (_cisco-uds._tcp.DOMAIN) at the gateway',
    description: 'The SRV record Jabber\'s service discovery asks for first, and address records for every name the gateway answers under.',
    options: {
      domain: { type: 'string', value: 'DOMAIN', help: 'the users\' domain Jabber looks up (required), e.g. example.com' },
      address: { type: 'string', value: 'IP', help: 'also print A/AAAA records for the gateway names with this address' },
      ttl: { type: 'string', value: 'S', help: 'record TTL in seconds (default 3600)' },
    },
    run: async ({ values }) =>
      (await import('./srv-records.js')).srvRecordsCommand({ config: config(values), domain: str(values.domain), address: str(values.address), ttl: str(values.ttl) }),
  },
  {
    name: 'routes',
    summary: 'the effective routes, or what the gateway does with one URL',
    synopsis: ['[--json]', '--explain URL [--method M] [--json]'],
    description:
      'Without --explain: the routes (built-in or configured) and what is refused whatever they say. With --explain: routed ' +
      '(cluster, route), denied (403, which deny entry), 404 or 405; for a node\'s URL, whether links to it are rewritten.',
    options: {
      explain: { type: 'string', value: 'URL', help: 'an https:// URL or a /path to explain' },
      method: { type: 'string', value: 'M', help: 'with --explain: the HTTP method (default GET)' },
      json: { type: 'boolean', help: 'print JSON' },
    },
    run: async ({ values }) =>
      (await import('./routes.js')).routesCommand({ config: config(values), explain: str(values.explain), method: str(values.method), json: values.json === true }),
  },
  {
    name: 'healthcheck',
    summary: 'probe the admin listener\'s /healthz as it really speaks (for HEALTHCHECK, systemd, monitoring)',
    description:
      'HTTPS verified against the gateway\'s own certificates by default, plain HTTP when listen.admin.tls is false; a wildcard ' +
      'host is asked on loopback. Reads the store, never writes it. Nothing on stdout; one line on stderr when unhealthy.',
    options: { timeout: { type: 'string', value: 'MS', help: 'give up after MS milliseconds, config included (default 3000)' } },
    exitCodes: ['0  healthy (200 within the timeout)', '1  unhealthy, unreachable, not this gateway, or no usable config (Docker reserves 2)', '2  bad input (unknown option, malformed --timeout)'],
    run: async ({ values }) => (await import('./healthcheck.js')).healthcheckCommand({ config: config(values), timeout: str(values.timeout) }),
  },
  {
    name: 'help',
    summary: 'the help of a command: ucgate help cert renew (= ucgate cert renew --help)',
    readsConfig: false,
    args: [{ name: 'COMMAND', help: 'a command, or a group and its command (cert renew)', optional: true, repeats: true }],
    exitCodes: ['0  printed', '2  no such command'],
    run: async ({ args, usageError }) => {
      const [{ commandHelp, mainUsage }, { findCommand }] = await Promise.all([import('./help.js'), import('./dispatch.js')]);
      if (args.length === 0) return (process.stdout.write(mainUsage()), 0);
      const spec = findCommand(args);
      if (!spec) return usageError(`no command ${JSON.stringify(args.join(' '))}`);
      process.stdout.write(commandHelp(args, spec));
      return 0;
    },
  },
  {
    name: 'version',
    summary: 'print the version (also --version, -V)',
    readsConfig: false,
    exitCodes: ['0  printed'],
    run: async () => {
      const { VERSION } = await import('../version.js');
      process.stdout.write(`ucgate ${VERSION}\n`);
      return 0;
    },
  },
  {
    name: 'completion',
    summary: 'print a shell completion script (bash or zsh)',
    description:
      'bash: `source <(ucgate completion bash)`, or save it as /etc/bash_completion.d/ucgate. zsh: save it as `_ucgate` in a ' +
      'folder on $fpath (or `source <(ucgate completion zsh)` after compinit).',
    readsConfig: false,
    args: [{ name: 'SHELL', help: 'bash | zsh', complete: ['bash', 'zsh'] }],
    exitCodes: ['0  printed', '2  bad input (no or unknown shell)'],
    run: async ({ args, usageError }) => {
      const shell = args[0];
      if (shell !== 'bash' && shell !== 'zsh') return usageError(`SHELL must be bash or zsh, not ${JSON.stringify(shell)}`);
      const { completionScript } = await import('./help.js');
      process.stdout.write(completionScript(shell));
      return 0;
    },
  },
];
