/** `npm run stress -- <flags>`: the same command as `ringkv stress`. */
import 'reflect-metadata';
import { stressCommand } from './cli.js';

stressCommand()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(`ringkv stress: ${(err as Error).message ?? String(err)}`);
    process.exit(2);
  });
