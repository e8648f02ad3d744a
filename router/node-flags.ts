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
//
// --initial-old-space-size (MiB) sets where V8 first puts the old generation's
// limit. A router allocates little on the JS heap but an ArrayBuffer per read
// (each socket read, each 16 KiB of TLS cleartext). With V8's defaults each
// router ran a full mark-compact every 8 MB or so of traffic, about 100 per GB,
// with concurrent marking on the other core. They were started by V8's
// incremental-marking task far below the old-space limit (--trace-gc and
// --trace-incremental-marking: "Start (task)" at 9 MB of a 21 MB limit); the
// likely cause is that V8 counts external memory allocated since the last
// full GC against the room left under that limit. V8 grows the limit only
// after heavier allocation, so a fresh router stayed in that costly mode
// (kskup's bimodal throughput from run to run). At 64 MiB there were 1-20 per
// GB, and on a quiet machine fresh routers' CPU per GB went from 9-11 to
// 5.3 s, one stream from 1.1-1.4 to 2.0 Gbit/s. The cost is memory under
// traffic: the heap may hold up to ~64 MB
// before the first full GC (RSS after a 0.5 GB transfer, per router,
// 93-105 MB -> 131-136 MB). Idle RSS and RSS per idle flow do not change
// (docs/benchmarks.md, "Memory per flow" and "Full GCs per GB").
//
// Flags that size the heap are read when V8 starts, so they cannot be set from
// inside the process (v8.setFlagsFromString has no effect on them).

/** Young-generation semi-space cap, MiB (V8 flag --max-semi-space-size). */
export const ROUTER_SEMI_SPACE_MIB = 4;
/** Initial old-generation limit, MiB (V8 flag --initial-old-space-size). */
export const ROUTER_INITIAL_OLD_SPACE_MIB = 64;

/** Node/V8 command-line options for a process that runs a router, in order. */
export const ROUTER_NODE_FLAGS: readonly string[] = [
  `--max-semi-space-size=${ROUTER_SEMI_SPACE_MIB}`,
  `--initial-old-space-size=${ROUTER_INITIAL_OLD_SPACE_MIB}`,
];
