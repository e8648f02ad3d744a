// The snapshot the server sends (cli/console/console-data.ts, ConsoleSnapshot):
// only the fields this page reads. Kept by hand beside the server's types
// because those live in Node code that the browser build does not compile.

export interface Router { id: string; state: string; version?: string }
export interface SiteLink { to: string; up: boolean; cost?: number; reason?: string }
export interface Site {
  id: string;
  name: string;
  platform: string;
  mode: string;
  self: boolean;
  lastHeard?: string;
  version?: string;
  routers: Router[];
  links: SiteLink[];
  blocked: Block[];
}
/** What a policy blocks at a site (cli/console/console-policy.ts, ConsoleBlock). */
export interface Block { kind: string; subject: string; reason: string }
export interface DeniedFlows { vanAddress: string; from: string; at: string; flows: number }
export interface ServicePolicy { access: { site: string; allowedSites: string[] }[]; deniedHere?: string; notImportedHere?: string; refused: DeniedFlows[] }
export interface Link { id: string; from: string; to: string; up: boolean; cost?: number; reason?: string; bytesPerSecond?: number }
export interface Service {
  address: string;
  ports: number[];
  exposedAt: string[];
  targets: { site: string; host: string; port: number; healthy: boolean }[];
  listeners: { site: string; host: string; port: number; servicePort: number; listening: boolean; reason?: string }[];
  listenersUnknownAt: string[];
  traffic: { opened: number; failed: number; requestBytes: number; responseBytes: number };
  policy: ServicePolicy;
}
export interface Flow {
  identity: string;
  startTime: string;
  service: string;
  client?: string;
  listenerSite?: string;
  connectorSite?: string;
  target?: string;
  octets: number;
  octetsReverse: number;
  durationMs?: number;
  result: string;
  reason?: string;
}
export interface SiteDetail {
  name: string;
  id: string;
  platform: string;
  mode: string;
  version: string;
  routerProblem?: string;
  links: { name: string; connected: boolean; reason: string; cost: number; remoteSite: string }[];
  incoming: { site: string; connected: boolean; role: string }[];
}
export interface Snapshot {
  gatheredAt: string;
  site: SiteDetail;
  sites: Site[];
  links: Link[];
  services: Service[];
  flows: Flow[];
  flowProblems: string[];
}
export interface FeedState { snapshot?: Snapshot; problem?: string }
