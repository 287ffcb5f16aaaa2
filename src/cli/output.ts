/** How commands speak to a person: results on stdout, problems on stderr, one line each. */
import { isUcgateError, ConfigError } from '../errors.js';

export function printProblems(err: unknown): number {
  if (err instanceof ConfigError) {
    for (const line of err.located) process.stderr.write(`${line}\n`);
    return 2;
  }
  if (isUcgateError(err)) {
    process.stderr.write(`ucgate: ${err.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`ucgate: ${(err as Error)?.message ?? String(err)}\n`);
  return 1;
}
