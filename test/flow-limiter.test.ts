// The rate limits of router/tcp/flow-limiter.ts on a fake clock: the token
// bucket, the concurrency cap, the bounded FIFO queue with its timeout, and
// the byte bucket that paces bandwidth; the tcpConnector attributes that set them.
import { describe, expect, it } from 'vitest';
import { ByteBucket, FlowLimiter, type FlowLimits, type LimiterClock } from '../router/tcp/flow-limiter.js';
import { limitsOf } from '../router/tcp/rate-limits.js';
import { ConfigError, formatProblem, parseRouterConfig } from '../router/config/index.js';

/** A clock that moves only when told; timers fire in time order as it passes them. */
class FakeClock implements LimiterClock {
  private time = 0;
  private nextId = 0;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort(([, a], [, b]) => a.at - b.at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
  }
}

/** Asks `count` flows in at the clock's now; returns what became of each, by index, with the time. */
function ask(limiter: FlowLimiter, clock: FakeClock, count: number) {
  const outcomes: { admitted?: number; refused?: string }[] = [];
  const admissions = Array.from({ length: count }, (_, i) => {
    outcomes[i] = {};
    return limiter.admit(
      () => (outcomes[i]!.admitted = clock.now()),
      (reason) => (outcomes[i]!.refused = reason),
    );
  });
  return { outcomes, admissions };
}

function make(limits: FlowLimits) {
  const clock = new FakeClock();
  return { clock, limiter: new FlowLimiter(limits, clock) };
}

describe('FlowLimiter', () => {
  it('10 flows/s, 100 at once, a queue of 100 for 5 s: 10 at once, then one each 100 ms, 40 refused at 5 s', () => {
    const { clock, limiter } = make({ flowsPerSecond: 10, flowQueue: 100, flowQueueTimeoutMs: 5_000 });
    const { outcomes } = ask(limiter, clock, 100);
    expect(outcomes.filter((o) => o.admitted === 0)).toHaveLength(10);
    expect(limiter.waiting).toBe(90);
    clock.advance(10_000);
    const admitted = outcomes.filter((o) => o.admitted !== undefined).map((o) => o.admitted!);
    // 10 at 0, then 100 ms apart up to 4.9 s, and the one due at 5.0 s is served before its timeout fires (first in, first out).
    expect(admitted.length).toBeGreaterThanOrEqual(59);
    expect(admitted.length).toBeLessThanOrEqual(60);
    expect(admitted.slice(10, 14)).toEqual([100, 200, 300, 400]);
    const refused = outcomes.filter((o) => o.refused !== undefined);
    expect(refused.length).toBe(100 - admitted.length);
    expect(refused[0]!.refused).toMatch(/over 10 new flow\(s\) per second \(burst 10\): waited 5000 ms in the queue/);
    expect(limiter.refused).toBe(refused.length);
    expect(limiter.waiting).toBe(0);
  });

  it('in order: a later flow never overtakes a waiting one', () => {
    const { clock, limiter } = make({ flowsPerSecond: 2, flowBurst: 1 });
    const { outcomes } = ask(limiter, clock, 4);
    clock.advance(400);
    // A newcomer while a token is due: it waits behind the others.
    const late = ask(limiter, clock, 1);
    clock.advance(2_000);
    expect(outcomes.map((o) => o.admitted)).toEqual([0, 500, 1000, 1500]);
    expect(late.outcomes[0]!.admitted).toBe(2000);
  });

  it('never more than burst + rate x T in any window of T', () => {
    const { clock, limiter } = make({ flowsPerSecond: 5, flowBurst: 3, flowQueue: 1000, flowQueueTimeoutMs: 60_000 });
    const times: number[] = [];
    for (let t = 0; t < 3_000; t += 37) {
      limiter.admit(() => times.push(clock.now()), () => undefined);
      clock.advance(37);
    }
    clock.advance(60_000);
    for (const start of times) {
      for (const span of [0, 250, 1000, 2000]) {
        const within = times.filter((t) => t >= start && t <= start + span).length;
        expect(within).toBeLessThanOrEqual(3 + Math.floor((5 * span) / 1000) + 1);
      }
    }
  });

  it('maxFlows 2: the third waits for a release, the fifth is refused at once with a queue of 2', () => {
    const { clock, limiter } = make({ maxFlows: 2, flowQueue: 2 });
    const { outcomes } = ask(limiter, clock, 5);
    expect(outcomes.map((o) => o.admitted)).toEqual([0, 0, undefined, undefined, undefined]);
    expect(outcomes[4]!.refused).toBe('rate limit: 2 flow(s) open, at maxFlows 2, and the queue of 2 waiting flow(s) is full');
    clock.advance(1_000);
    limiter.release();
    expect(outcomes[2]!.admitted).toBe(1_000);
    expect(outcomes[3]!.admitted).toBeUndefined();
    expect(limiter.open).toBe(2);
    clock.advance(5_000);
    expect(outcomes[3]!.refused).toMatch(/at maxFlows 2: waited 5000 ms/);
    expect(limiter.refused).toBe(2);
  });

  it('a cancelled waiter leaves the queue and is neither admitted nor refused; queue 0 refuses at once', () => {
    const { clock, limiter } = make({ maxFlows: 1 });
    const { outcomes, admissions } = ask(limiter, clock, 3);
    admissions[1]!.cancel();
    expect(limiter.waiting).toBe(1);
    limiter.release();
    expect(outcomes[1]).toEqual({});
    expect(outcomes[2]!.admitted).toBe(0);
    const strict = make({ maxFlows: 1, flowQueue: 0 });
    const second = ask(strict.limiter, strict.clock, 2).outcomes;
    expect(second[1]!.refused).toMatch(/queue of 0/);
  });

  it('new limits apply to the queue at once: raising maxFlows admits the waiting', () => {
    const { clock, limiter } = make({ maxFlows: 1 });
    const { outcomes } = ask(limiter, clock, 3);
    limiter.setLimits({ maxFlows: 3 });
    expect(outcomes.every((o) => o.admitted === 0)).toBe(true);
    limiter.stop(true);
  });
});

describe('ByteBucket', () => {
  it('1 MiB/s in 64 KiB pieces: 10 s moves 10 MiB plus at most the first tenth of a second', () => {
    const clock = new FakeClock();
    const bucket = new ByteBucket(1024 * 1024, clock);
    let moved = 0;
    while (clock.now() < 10_000) {
      moved += 65536;
      const wait = bucket.take(65536);
      if (wait > 0) clock.advance(wait);
    }
    expect(moved).toBeGreaterThanOrEqual(10 * 1024 * 1024);
    expect(moved).toBeLessThanOrEqual(10 * 1024 * 1024 + 0.1 * 1024 * 1024 + 65536);
  });

  it('an idle spell buys a tenth of a second, no more', () => {
    const clock = new FakeClock();
    const bucket = new ByteBucket(1000, clock);
    clock.advance(60_000);
    expect(bucket.take(100)).toBe(0);
    expect(bucket.take(1)).toBe(1);
    expect(bucket.take(499)).toBe(500);
  });
});

describe('tcpConnector rate limit attributes (router config)', () => {
  const connector = (extra: Record<string, unknown>) => JSON.stringify([['router', { id: 'r1' }], ['tcpConnector', { name: 'web', port: 8080, address: 'web', ...extra }]]);
  const problems = (extra: Record<string, unknown>): string[] => {
    try {
      parseRouterConfig(connector(extra));
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems.map(formatProblem);
    }
  };

  it('are read, numbers as strings too, and absent from a skupper-router file', () => {
    const { config } = parseRouterConfig(connector({ maxFlows: '100', flowsPerSecond: 50, flowBurst: 20, bandwidth: 10485760, flowQueue: 0, flowQueueTimeoutMs: '2500' }));
    expect(config.tcpConnectors.get('web')).toMatchObject({ maxFlows: 100, flowsPerSecond: 50, flowBurst: 20, bandwidth: 10485760, flowQueue: 0, flowQueueTimeoutMs: 2500 });
    const plain = parseRouterConfig(connector({})).config.tcpConnectors.get('web')!;
    expect(limitsOf([plain])).toEqual({});
  });

  it.each([
    [{ maxFlows: 0 }, 'maxFlows 0 must be at least 1'],
    [{ flowsPerSecond: 'ten' }, 'flowsPerSecond "ten" is not a number'],
    [{ flowsPerSecond: 2.5 }, 'flowsPerSecond 2.5 is not an integer'],
    [{ bandwidth: -1 }, 'bandwidth -1 must be at least 1'],
    [{ flowBurst: 5 }, 'flowBurst is set but flowsPerSecond is not'],
    [{ flowQueue: 10 }, 'flowQueue is set but neither maxFlows nor flowsPerSecond is'],
    [{ bandwidth: 1000, flowQueueTimeoutMs: 10 }, 'flowQueueTimeoutMs is set but neither maxFlows nor flowsPerSecond is'],
  ])('%o is refused, naming the entity and attribute', (extra, message) => {
    const lines = problems(extra);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('tcpConnector "web"');
    expect(lines[0]).toContain(message);
  });

  it('several tcpConnectors of one address: the lowest of each limit', () => {
    const at = (extra: Record<string, unknown>) => ({ name: 'x', host: 'h', port: 1, address: 'web', verifyHostname: true, ...extra });
    expect(limitsOf([at({ maxFlows: 10, bandwidth: 100 }), at({ maxFlows: 4, flowsPerSecond: 3 })])).toEqual({ maxFlows: 4, bandwidth: 100, flowsPerSecond: 3 });
  });
});
