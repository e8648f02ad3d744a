// The V8 options a router process runs with: the `kskup-router` command's
// shebang (router/main.ts), the local platform's site process (which hosts the
// site's router) and the benchmarks pass exactly these.
//
// --max-semi-space-size (MiB) caps V8's young generation. Left to itself, V8
// grows each semi-space from 1 to 16 MiB (Node 20 on 64-bit) as soon as
// allocation picks up, for instance while hundreds of flows open, and keeps it:
// with 1000 idle flows open, 24 MiB of each router's 32 MiB heap growth was that
// young generation, not the flows (metrics nodejs_heap_space_size_total_bytes,
// docs/benchmarks.md "Memory per flow"). At 4 MiB the growth per flow halves;
// what a flow keeps is in the old generation either way.
// Flags that size the heap are read when V8 starts, so they cannot be set from
// inside the process (v8.setFlagsFromString has no effect on them).

/** Young-generation semi-space cap, MiB (V8 flag --max-semi-space-size). */
export const ROUTER_SEMI_SPACE_MIB = 4;

/** Node/V8 command-line options for a process that runs a router, in order. */
export const ROUTER_NODE_FLAGS: readonly string[] = [`--max-semi-space-size=${ROUTER_SEMI_SPACE_MIB}`];
