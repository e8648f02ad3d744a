// The rate limit options of `kskup service limit` and `kskup expose`
// (docs/traffic.md): the same flags, parsed and checked the same way, and the
// one sentence that says what a setting does.
import { type Command, Option } from 'commander';
import type { ServiceLimits } from '../../site-controller/site/model.js';
import { UsageError } from '../errors.js';
import { parseBandwidth, parseDuration, parseLimitCount } from './traffic-arguments.js';

export interface LimitOptions {
  readonly maxFlows?: number;
  readonly flowsPerSecond?: number;
  readonly burst?: number;
  readonly bandwidth?: number;
  readonly queue?: number;
  readonly queueTimeout?: number;
}

/** The router's defaults (router/tcp/flow-limiter.ts), for the help text. */
const DEFAULT_QUEUE = 100;
const DEFAULT_QUEUE_TIMEOUT_S = 5;

export function addLimitOptions(command: Command): Command {
  return command
    .addOption(new Option('--max-flows <n>', 'rate limit: flows of the service open at once, network-wide').argParser((v) => parseLimitCount(v, '--max-flows')))
    .addOption(new Option('--flows-per-second <n>', 'rate limit: new flows of the service per second, network-wide').argParser((v) => parseLimitCount(v, '--flows-per-second')))
    .addOption(new Option('--burst <n>', 'with --flows-per-second: new flows at once after a quiet spell (default: one second\'s worth)').argParser((v) => parseLimitCount(v, '--burst')))
    .addOption(new Option('--bandwidth <rate>', 'rate limit: bytes per second each way, network-wide: 10MiB/s, 500KB/s (shaped, never dropped)').argParser(parseBandwidth))
    .addOption(new Option('--queue <n>', `flows over --max-flows or --flows-per-second that may wait at each target site (default ${DEFAULT_QUEUE}; 0: refuse at once)`).argParser((v) => parseLimitCount(v, '--queue', 0)))
    .addOption(new Option('--queue-timeout <duration>', `how long such a flow waits before it is refused: 500ms, 2s (default ${DEFAULT_QUEUE_TIMEOUT_S}s)`).argParser((v) => parseDuration(v, '--queue-timeout')));
}

/** The limits the options set; undefined when none is given. A burst needs a rate, a queue needs something to wait for. */
export function limitsFromOptions(options: LimitOptions): ServiceLimits | undefined {
  if (options.burst !== undefined && options.flowsPerSecond === undefined) throw new UsageError('option --burst needs --flows-per-second (the burst is of new flows per second)');
  const waitsFor = options.maxFlows !== undefined || options.flowsPerSecond !== undefined;
  for (const [flag, value] of [['--queue', options.queue], ['--queue-timeout', options.queueTimeout]] as const) {
    if (value !== undefined && !waitsFor) throw new UsageError(`option ${flag} needs --max-flows or --flows-per-second (flows wait in the queue for those)`);
  }
  const limits: ServiceLimits = {
    ...(options.maxFlows !== undefined && { maxFlows: options.maxFlows }),
    ...(options.flowsPerSecond !== undefined && { flowsPerSecond: options.flowsPerSecond }),
    ...(options.burst !== undefined && { flowBurst: options.burst }),
    ...(options.bandwidth !== undefined && { bandwidth: options.bandwidth }),
    ...(options.queue !== undefined && { flowQueue: options.queue }),
    ...(options.queueTimeout !== undefined && { flowQueueTimeoutMs: options.queueTimeout }),
  };
  return Object.keys(limits).length === 0 ? undefined : limits;
}

/** `max 100 flows, 50 new/s (burst 20), 10 MiB/s each way; wait up to 100 for 5 s`. */
export function describeLimits(limits: ServiceLimits): string {
  const parts = [
    ...(limits.maxFlows !== undefined ? [`at most ${limits.maxFlows} flow(s) open`] : []),
    ...(limits.flowsPerSecond !== undefined ? [`${limits.flowsPerSecond} new flow(s)/s (burst ${limits.flowBurst ?? limits.flowsPerSecond})`] : []),
    ...(limits.bandwidth !== undefined ? [`${bytesPerSecond(limits.bandwidth)} each way`] : []),
  ];
  const queue = limits.maxFlows !== undefined || limits.flowsPerSecond !== undefined ? `; over it a flow waits (up to ${limits.flowQueue ?? DEFAULT_QUEUE} at each target site, for ${(limits.flowQueueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_S * 1000) / 1000} s), then is refused` : '';
  return `${parts.join(', ')}${queue}`;
}

function bytesPerSecond(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (bytes >= size) return `${Math.round((bytes / size) * 100) / 100} ${unit}/s`;
  return `${bytes} B/s`;
}
