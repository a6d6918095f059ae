/** `npm run stress -- <flags>`: the same command as `ringkv stress`. */
import 'reflect-metadata';
import { applyExitRule, EXIT_FAILED } from '../../src/cli/exit.js';
import { stressCommand } from './cli.js';

const command = stressCommand();
applyExitRule(command);
command.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`ringkv stress: ${(err as Error).message ?? String(err)}`);
  process.exit(EXIT_FAILED);
});
