/**
 * One exit-status rule for every ringkv command, whoever notices the problem
 * (commander while parsing, or ringkv's own checks afterwards): scripts can
 * tell "you called it wrong" from "it ran and something failed".
 */
import type { Command, CommanderError } from 'commander';
import { ImpossibleQuorumError, InvalidOptionError, LayoutMismatchError } from '../errors.js';

export const EXIT_OK = 0;
/** The command ran and a check or operation failed (not found, a violation, server unreachable, …). */
export const EXIT_FAILED = 1;
/** Bad usage: unknown command or option, a missing argument, an invalid value. */
export const EXIT_USAGE = 2;

export const EXIT_HELP = 'Exit status: 0 success; 1 a failed check or operation (key not found, a violation found, server unreachable); 2 bad usage (unknown command or option, invalid value).';

/** Errors that mean the settings given make no sense, as opposed to a run that failed. */
export function isUsageError(err: unknown): boolean {
  return err instanceof InvalidOptionError || err instanceof ImpossibleQuorumError || err instanceof LayoutMismatchError;
}

/**
 * Make commander exit with EXIT_USAGE on its parse errors (it uses 1 by
 * default) and state the rule in every command's --help. Call after every
 * subcommand is added: commander copies exitOverride only to commands created
 * after it, and `stress` is built on its own.
 */
export function applyExitRule(cmd: Command): void {
  cmd.exitOverride((err: CommanderError) => {
    // help and --version exit 0; everything else commander stops on is usage
    process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
  });
  cmd.addHelpText('after', `\n${EXIT_HELP}`);
  for (const sub of cmd.commands) applyExitRule(sub);
}
