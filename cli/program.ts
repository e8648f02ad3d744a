// The `kskup` command tree. Built afresh for each run so that runs share no
// parser state; output goes to the context's streams and commander never exits
// the process (exitOverride): `run()` decides exit codes.
import { Command } from 'commander';
import { VERSION } from '../router/version.js';
import type { CommandContext } from './command-context.js';
import { addConsoleCommand } from './console/console-command.js';
import { addControllerCommands } from './controller-command.js';
import { addRouterStatCommand } from './router-stat/command.js';
import { addDebugCommands } from './dump/dump-command.js';
import { addDeleteCommand } from './site/delete-command.js';
import { addExposeCommands } from './site/expose-commands.js';
import { addFlowCommands } from './site/flow-list-command.js';
import { addNetworkCommands } from './site/network-status-command.js';
import { addPolicyCommands } from './site/policy-commands.js';
import { addServiceCommands } from './site/service-status-command.js';
import { addInitCommand } from './site/init-command.js';
import { addLinkCommands } from './site/link-commands.js';
import { addRevokeAccessCommand } from './site/revoke-access-command.js';
import { addRotateCertsCommand } from './site/rotate-certs-command.js';
import { acceptSiteOptionsFirst, GLOBAL_OPTIONS_HELP } from './site/site-options.js';
import { addStatusCommand } from './site/status-command.js';
import { addTlsCommands } from './site/tls-commands.js';
import { addTokenCommands } from './site/token-commands.js';

const ROOT_HELP = `${GLOBAL_OPTIONS_HELP}

Examples:
  kskup init -n west                              a site "west" on this machine
  kskup init -n east
  kskup token create west.token -n west           a token to link to west
  kskup link create west.token -n east            east links to west
  kskup link status -n east --wait 10
  kskup expose host/localhost --port 8080 --address web -n west   "web" at every linked site
  kskup service status -n east                    where "web" listens at east
  kskup flow list -n east --errors                recent flows of the whole network that failed
  kskup network status -n east
  kskup policy set policy.yaml -n east             what east lets others do with it, and does itself
  kskup console -n east                           the web console of east, on 127.0.0.1
  kskup status -n west
  kskup rotate-certs -n west                      a new server certificate; links stay up
  kskup router stat -n --config router.json       the router network as the router of router.json sees it
  kskup debug dump west.tar.gz -n west            what it takes to diagnose site west, without its secrets

The router runs as its own program too: kskup-router -c router.json`;

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
  acceptSiteOptionsFirst(program);
  addInitCommand(program, context);
  addStatusCommand(program, context);
  addDeleteCommand(program, context);
  addTokenCommands(program, context);
  addLinkCommands(program, context);
  addRevokeAccessCommand(program, context);
  addRotateCertsCommand(program, context);
  addExposeCommands(program, context);
  addServiceCommands(program, context);
  addFlowCommands(program, context);
  addTlsCommands(program, context);
  addPolicyCommands(program, context);
  addNetworkCommands(program, context);
  addConsoleCommand(program, context);
  addControllerCommands(program, context);
  addDebugCommands(program, context);
  const router = program.command('router').description('inspect a running kskup router');
  addRouterStatCommand(router, context);
  return program;
}
