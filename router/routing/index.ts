// Routing: owns the link-state data (each router's newest advertisement) and
// route computation (next hop and cost to every reachable router, and which
// routers serve an address). Pure: no I/O, no timers (time is passed in), and
// it imports nothing of the project outside router/routing, so the runtime that
// sends hellos and floods ads over AMQP can be written and tested apart.
export {
  compareVersions,
  isLinkStateAd,
  LinkStateDatabase,
  type AcceptResult,
  type AdVersion,
  type LinkStateAd,
  type LinkStateSummary,
  type RouterMode,
  type Served,
} from './link-state.js';
export { computePaths, computeRoutes, EDGE_HOP_COST, targetsFor, type Route, type RouteTable, type Target } from './routes.js';
