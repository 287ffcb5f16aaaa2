/**
 * `ucgate check`: validate the config and summarise it; exit 2 with one line
 * per problem. Warnings (a config that works but most likely not as meant)
 * go to stderr as `warning: path.to.key: message` lines, and the exit stays 0.
 */
import { routeWarnings } from '../config/cross-checks.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';

export async function checkCommand(options: { config?: string }): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    const nodes = config.clusters.reduce((sum, cluster) => sum + cluster.nodes.length, 0);
    const srv = config.clusters.filter((cluster) => cluster.srv).length;
    process.stdout.write(
      `${config.configFile}: ok — ${config.clusters.length} cluster(s), ${nodes} node(s)` +
        (srv ? `, ${srv} from SRV` : '') +
        `, ${config.listen.https.length} https and ${config.listen.http.length} http listener(s), ` +
        `${config.routes.length} route(s)${config.routesBuiltIn ? ' (built-in UC allow-list)' : ''}, issuer ${config.certificates.issuer.type}\n`,
    );
    const warnings = config.routesBuiltIn ? [] : routeWarnings(config.routes);
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}
