#!/usr/bin/env node
// kskup: the command line. Sites, tokens, links and services come in later
// versions; for now it answers --help and --version.
import { Command } from 'commander';
import { VERSION } from '../router/version.js';

const program = new Command('kskup')
  .description('kskup connects services across Kubernetes clusters and hosts without a VPN')
  .version(VERSION, '-v, --version')
  .addHelpText('after', '\nThe router runs as its own program: kskup-router -c router.json')
  .exitOverride();

try {
  program.parse(process.argv);
  if (process.argv.length <= 2) program.outputHelp();
} catch (error) {
  const exitCode = (error as { exitCode?: number }).exitCode ?? 2;
  process.exit(exitCode === 0 ? 0 : 2);
}
