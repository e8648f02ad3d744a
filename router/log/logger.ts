// JSON-lines logging for the router, one child logger per skupper-router module
// (ROUTER, SERVER, TCP_ADAPTOR, HTTP, ...), each with its own level so that a
// `log` entity or `--log-level` can turn one module up without the others.
import pino from 'pino';
import type { LogEntity, LogLevel } from '../config/types.js';

export type Logger = pino.Logger;

export interface RouterLogging {
  /** The logger of one module; the same object for the same name. */
  module(name: string): Logger;
  /**
   * Apply `log` entities. A module's level is its own entity's, else the
   * command line's `--log-level`, else the DEFAULT entity's, else info.
   */
  setLevels(entities: readonly LogEntity[]): void;
}

export function createRouterLogging(options: {
  /** From `--log-level`: beats the DEFAULT entity, not a module's own entity. */
  commandLineLevel?: LogLevel;
  base?: Record<string, unknown>;
  /** Where lines go; stderr when absent. Tests pass a stream to read them back. */
  destination?: pino.DestinationStream;
}): RouterLogging {
  // Synchronous writes: lines must be on stderr before the process exits on a fatal error.
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  const root = pino(
    {
      level: 'trace',
      base: options.base ?? {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const modules = new Map<string, Logger>();
  let levels = new Map<string, LogLevel>();

  const levelOf = (name: string): LogLevel => levels.get(name) ?? options.commandLineLevel ?? levels.get('DEFAULT') ?? 'info';

  return {
    module(name) {
      let logger = modules.get(name);
      if (!logger) {
        logger = root.child({ module: name }, { level: levelOf(name) });
        modules.set(name, logger);
      }
      return logger;
    },
    setLevels(entities) {
      levels = new Map(entities.map((entity) => [entity.module, entity.level]));
      for (const [name, logger] of modules) logger.level = levelOf(name);
    },
  };
}
