// How many cases each property-based test (fast-check) runs, and with which
// seed. In `npm test` a property runs its own bounded number of cases (about
// 10 s); `npm run bench:fuzz -- --minutes N [--seed S]` (bench/fuzz.mjs) runs
// the same properties for longer through these environment variables:
//   KSKUP_FUZZ_SECONDS  run each property for this long instead
//   KSKUP_FUZZ_SEED     fast-check's seed (printed at the start of every run)
//   KSKUP_FUZZ_PATH     with the seed, replays one failure's shrunk case
// A failure's message holds fast-check's seed and path, so it can be replayed.
import fc from 'fast-check';

const seconds = Number(process.env.KSKUP_FUZZ_SECONDS ?? 0);
const seed = process.env.KSKUP_FUZZ_SEED === undefined ? Date.now() ^ (Math.random() * 0x100000000) : Number(process.env.KSKUP_FUZZ_SEED);
const path = process.env.KSKUP_FUZZ_PATH;

/** The longest a property runs in a long fuzz run, in ms; undefined in `npm test`. */
export const FUZZ_TIME_MS = seconds > 0 ? seconds * 1000 : undefined;

/** fast-check parameters for a property that runs `runs` cases in `npm test`. */
export function fuzzParameters<T>(name: string, runs: number): fc.Parameters<T> {
  console.log(`fuzz "${name}": seed ${seed}${path ? `, path ${path}` : ''}${FUZZ_TIME_MS ? `, for ${seconds} s` : `, ${runs} cases`}`);
  return {
    seed,
    ...(path !== undefined && { path, endOnFailure: true }),
    ...(FUZZ_TIME_MS ? { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: FUZZ_TIME_MS, markInterruptAsFailure: false } : { numRuns: runs }),
  };
}

/** A vitest timeout for a test whose property runs `normalMs` in `npm test`, longer in a long run. */
export function fuzzTimeout(normalMs: number): number {
  return FUZZ_TIME_MS ? FUZZ_TIME_MS + 120_000 : normalMs;
}
