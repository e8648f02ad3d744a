#!/usr/bin/env node
// kskup-router: `kskup-router -c FILE`, like `skrouterd -c`. Exit codes: 2 for a
// usage error, 1 for a config file that cannot be used at start; 0 after
// SIGTERM/SIGINT. SIGHUP or a change to the file re-reads it and applies the
// difference; an invalid new file is logged and the running config stays.
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadRouterConfigFile } from './config/index.js';
import type { LogLevel } from './config/types.js';
import { createRouterLogging } from './log/logger.js';
import { watchConfigFile } from './reload.js';
import { Router } from './router.js';
import { VERSION } from './version.js';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function parseLevel(value: string): LogLevel {
  if ((LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new InvalidArgumentError(`must be one of ${LEVELS.join(', ')}`);
}

async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('kskup-router')
    .description('kskup router: carries TCP flows between sites over AMQP 1.0 with mutual TLS')
    .option('-c, --config <file>', 'router config file in skupper-router JSON format (or KSKUP_ROUTER_CONFIG)')
    .option('--log-level <level>', `lowest level logged by modules without their own log entity (${LEVELS.join(', ')})`, parseLevel)
    .option('--debug', 'show stack traces of unexpected errors')
    .version(VERSION, '-v, --version')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .addHelpText('after', '\nExample:\n  kskup-router -c router.json\n  kill -HUP <pid>   # re-read router.json and apply the difference');
  try {
    program.parse(argv);
  } catch (error) {
    const exitCode = (error as { exitCode?: number }).exitCode ?? 2;
    return exitCode === 0 ? 0 : 2;
  }
  const options = program.opts<{ config?: string; logLevel?: LogLevel; debug?: boolean }>();
  const file = options.config ?? process.env.KSKUP_ROUTER_CONFIG;
  if (!file) {
    process.stderr.write('kskup-router: no config file: give -c FILE or set KSKUP_ROUTER_CONFIG\n');
    return 2;
  }

  let loaded;
  try {
    loaded = await loadRouterConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`kskup-router: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const logging = createRouterLogging({ commandLineLevel: options.logLevel, base: { router: loaded.config.router.id } });
  const log = logging.module('ROUTER');
  for (const warning of loaded.warnings) log.warn({ file }, warning);

  const router = new Router(loaded.config, logging, dirname(resolve(file)));
  await router.start();

  const reload = async (trigger: string) => {
    try {
      const next = await loadRouterConfigFile(file);
      for (const warning of next.warnings) log.warn({ file }, warning);
      await router.reconfigure(next.config);
    } catch (error) {
      if (error instanceof ConfigError) {
        log.error({ file, trigger, problems: error.problems.length }, `${error.message}\nthe running configuration stays`);
      } else {
        log.error({ file, trigger, reason: String(error) }, 'reload failed; the running configuration stays');
      }
    }
  };
  const watcher = watchConfigFile(file, () => void reload('file change'));
  process.on('SIGHUP', () => void reload('SIGHUP'));

  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, `received ${signal}; shutting down`);
      watcher.close();
      // Whatever happens, do not hang: a stuck close must not keep the process.
      setTimeout(() => resolve(0), 2_000).unref();
      router.stop().then(() => resolve(0), () => resolve(0));
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

main(process.argv).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const debug = process.argv.includes('--debug');
    process.stderr.write(`kskup-router: ${debug && error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
