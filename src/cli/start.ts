/**
 * `ucgate start`: run the gateway until SIGTERM/SIGINT (drain, exit 0).
 * Signals are wired by main.ts, the only module that touches them.
 */
import type { Logger } from '../log.js';
import { createLogger } from '../log.js';
import type { UcgateConfig } from '../config/types.js';
import { Primary } from '../control/primary.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { describeBindFailure } from './listen-errors.js';

export interface RunningGateway {
  readonly primary: Primary;
  readonly log: Logger;
}

export async function startGateway(config: UcgateConfig, log: Logger = createLogger({ level: config.log.level, format: config.log.format, base: { role: 'primary' } })): Promise<RunningGateway> {
  const primary = new Primary({ config, log });
  try {
    await primary.start();
  } catch (err) {
    // Workers that did start must not outlive a gateway that failed to.
    await primary.stop();
    throw err;
  }
  return { primary, log };
}

export async function startCommand(options: { config?: string }): Promise<RunningGateway | number> {
  let config: UcgateConfig;
  try {
    config = await loadCliConfig(options.config);
  } catch (err) {
    return printProblems(err);
  }
  try {
    return await startGateway(config);
  } catch (err) {
    // A port in use (or not allowed): which listener, who holds it, what to change.
    const bind = describeBindFailure(err, config);
    if (bind) {
      process.stderr.write(`${bind.join('\n')}\n`);
      return 1;
    }
    return printProblems(err);
  }
}
