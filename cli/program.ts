// The `kskup` command tree. Built afresh for each run so that runs share no
// parser state; output goes to the context's streams and commander never exits
// the process (exitOverride): `run()` decides exit codes.
import { Command } from 'commander';
import { VERSION } from '../router/version.js';
import type { CommandContext } from './command-context.js';
import { addRouterStatCommand } from './router-stat/command.js';

const ROOT_HELP = `
Examples:
  kskup router stat -n --config router.json   the router network as the router of router.json sees it

The router runs as its own program: kskup-router -c router.json`;

export function buildProgram(context: CommandContext): Command {
  const program = new Command('kskup')
    .description('kskup connects services across Kubernetes clusters and hosts without a VPN')
    .version(VERSION, '-v, --version')
    .addHelpText('after', ROOT_HELP)
    // Set before adding subcommands: commander copies these settings into each.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.io.stdout.write(text),
      writeErr: (text) => context.io.stderr.write(text),
      // One line: "error: unknown option '--x'\n(Did you mean --y?)" -> "kskup: unknown option '--x' (Did you mean --y?)"
      outputError: (text, write) => write(`kskup: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`),
    });
  const router = program.command('router').description('inspect a running kskup router');
  addRouterStatCommand(router, context);
  return program;
}
