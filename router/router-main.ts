// The kskup-router process once its entry (main.ts) has caught the signals:
// parses the command line, loads the config, runs the router until a stop
// signal, and returns the exit code (see main.ts). A stop signal is looked at
// after every step of start-up, so a stop during start-up is a clean stop too.
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadRouterConfigFile, withRouterId } from './config/index.js';
import type { LogLevel } from './config/types.js';
import { createRouterLogging } from './log/logger.js';
import { watchConfigFile } from './reload.js';
import { DEFAULT_FLOW_RECORD_CAPACITY, MAX_FLOW_RECORD_CAPACITY } from './flows/flow-records.js';
import { Router } from './router.js';
import type { StopSignals } from './stop-signals.js';
import { VERSION } from './version.js';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function parseLevel(value: string): LogLevel {
  if ((LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new InvalidArgumentError(`must be one of ${LEVELS.join(', ')}`);
}

/** Shutting down must not hang: a stuck close must not keep the process. */
const STOP_DEADLINE_MS = 2_000;

export async function runRouterProcess(argv: readonly string[], signals: StopSignals): Promise<number> {
  const program = new Command('kskup-router')
    .description('kskup router: carries TCP flows between sites over AMQP 1.0 with mutual TLS')
    .option('-c, --config <file>', 'router config file: skupper-router JSON or skrouterd .conf syntax (or KSKUP_ROUTER_CONFIG)')
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
  if (signals.received) return 0;
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
  if (signals.received) return 0;
  const logging = createRouterLogging({ commandLineLevel: options.logLevel, base: { router: loaded.config.router.id } });
  const log = logging.module('ROUTER');
  for (const warning of loaded.warnings) log.warn({ file }, warning);
  if (loaded.config.router.idGenerated) log.info({ file }, `router id not set; using generated id ${loaded.config.router.id}`);
  const generatedId = loaded.config.router.idGenerated ? loaded.config.router.id : undefined;

  const flowRecords = flowRecordCapacity(process.env.KSKUP_FLOW_RECORDS);
  if (typeof flowRecords === 'string') {
    process.stderr.write(`kskup-router: ${flowRecords}\n`);
    return 2;
  }
  const router = new Router(loaded.config, logging, dirname(resolve(file)), { flowRecords });
  const stop = async (signal: string): Promise<number> => {
    log.info({ signal }, `received ${signal}; shutting down`);
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
    await router.stop().catch(() => undefined);
    return 0;
  };
  // start() resolves when every listener has bound once, which may take a while (a port that is taken is retried).
  const started = await Promise.race([router.start().then(() => undefined), signals.stopped]);
  if (started !== undefined) return stop(started);

  const reload = async (trigger: string) => {
    try {
      const next = await loadRouterConfigFile(file);
      for (const warning of next.warnings) log.warn({ file }, warning);
      // A file still without an id keeps the generated one: a new id on each reload would be a new router.
      await router.reconfigure(generatedId !== undefined && next.config.router.idGenerated ? withRouterId(next.config, generatedId) : next.config);
      // SIGHUP also re-reads the key material, as skupper-router's does.
      if (trigger === 'SIGHUP') await router.checkProfileFiles();
    } catch (error) {
      if (error instanceof ConfigError) {
        log.error({ file, trigger, problems: error.problems.length }, `${error.message}\nthe running configuration stays`);
      } else {
        log.error({ file, trigger, reason: String(error) }, 'reload failed; the running configuration stays');
      }
    }
  };
  const watcher = watchConfigFile(file, () => void reload('file change'));
  signals.onHangup(() => void reload('SIGHUP'));
  const signal = await signals.stopped;
  watcher.close();
  return stop(signal);
}

/** KSKUP_FLOW_RECORDS: how many flow records the router keeps (router/flows/flow-records.ts); the default when unset. */
function flowRecordCapacity(value: string | undefined): number | string {
  if (value === undefined || value === '') return DEFAULT_FLOW_RECORD_CAPACITY;
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < 1 || count > MAX_FLOW_RECORD_CAPACITY) {
    return `KSKUP_FLOW_RECORDS "${value}" is not a whole number from 1 to ${MAX_FLOW_RECORD_CAPACITY}`;
  }
  return count;
}
