/**
 * `ucgate check`, like `nginx -t`: validate the config and summarise it; exit 2
 * with one line per problem, `FILE:LINE:COL path.to.key: message` (where the
 * key is in the file). Warnings — what `start` would log about a config that
 * works but most likely not as meant (a route the deny list refuses, a legacy
 * TLS listener, a certificate near expiry or lacking a name the config asks
 * for) — go to stderr as `warning: path.to.key: message` lines, and the exit
 * stays 0. `--print`: the effective configuration as YAML on stdout (defaults
 * filled in, secrets masked) instead of the summary.
 */
import { routeWarnings } from '../proxy/route-warnings.js';
import { printConfig } from '../config/print-config.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import type { UcgateConfig } from '../config/types.js';

export async function checkCommand(options: { config?: string; print?: boolean }): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    if (options.print) process.stdout.write(printConfig(config));
    else {
      const nodes = config.clusters.reduce((sum, cluster) => sum + cluster.nodes.length, 0);
      const srv = config.clusters.filter((cluster) => cluster.srv).length;
      process.stdout.write(
        `${config.configFile}: ok — ${config.clusters.length} cluster(s), ${nodes} node(s)` +
          (srv ? `, ${srv} from SRV` : '') +
          `, ${config.listen.https.length} https and ${config.listen.http.length} http listener(s), ` +
          `${config.routes.length} route(s)${config.routesBuiltIn ? ' (built-in UC allow-list)' : ''}, issuer ${config.certificates.issuer.type}\n`,
      );
    }
    for (const warning of await checkWarnings(config)) process.stderr.write(`warning: ${warning}\n`);
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}

/** Every warning `start` would log that the config and the (file) store can tell now. */
export async function checkWarnings(config: UcgateConfig): Promise<string[]> {
  const warnings = config.routesBuiltIn ? [] : routeWarnings(config.routes);
  const { configWarnings, certificateWarnings } = await import('../control/startup-warnings.js');
  warnings.push(...configWarnings(config));
  // A Redis store is left to start: check does not connect to it.
  if (config.certificates.store.type === 'file') {
    const { FileStorage } = await import('../store/file-storage.js');
    try {
      warnings.push(...(await certificateWarnings(config, new FileStorage(config.certificates.dir))));
    } catch (err) {
      warnings.push(`certificates.dir: could not read the stored certificates (${(err as Error).message}): their expiry and names are not checked`);
    }
  }
  return warnings;
}
