// What each `kskup router stat` section asks the router for and how it prints
// it, in skstat's spirit: -g is an attribute/value list, the others tables.
import { RuntimeError } from '../errors.js';
import { longEntityType, type Entity, type ManagementClient } from '../../router/management/management-client.js';
import { formatCell, formatTable } from '../table.js';

export type SectionName = 'general' | 'connections' | 'nodes' | 'addresses' | 'flows';
export type OutputFormat = 'text' | 'json';

export interface SectionData {
  readonly entities: readonly Entity[];
  /** This router's id: `-n` lists itself among the nodes and marks that row. */
  readonly selfId?: string;
}

interface Column {
  readonly header: string;
  readonly cell: (entity: Entity, data: SectionData) => unknown;
}

interface TableSection {
  readonly entityType: string;
  readonly sortBy: string;
  readonly columns: readonly Column[];
}

const attribute = (header: string, name: string): Column => ({ header, cell: (entity) => entity[name] });

const TABLES: Readonly<Record<Exclude<SectionName, 'general'>, TableSection>> = {
  connections: {
    entityType: 'connection',
    sortBy: 'identity',
    columns: [
      attribute('id', 'identity'),
      attribute('host', 'host'),
      attribute('container', 'container'),
      attribute('role', 'role'),
      attribute('dir', 'dir'),
      attribute('via', 'via'),
      attribute('opened', 'opened'),
    ],
  },
  nodes: {
    entityType: 'router.node',
    sortBy: 'id',
    columns: [
      attribute('router-id', 'id'),
      { header: 'next-hop', cell: (node, data) => (data.selfId !== undefined && node['id'] === data.selfId ? '(self)' : node['nextHop']) },
      attribute('cost', 'cost'),
      attribute('hops', 'hops'),
      attribute('mode', 'mode'),
    ],
  },
  addresses: {
    entityType: 'router.address',
    sortBy: 'name',
    columns: [
      attribute('address', 'name'),
      attribute('distribution', 'distribution'),
      attribute('local', 'localTargets'),
      attribute('remote-routers', 'remoteRouters'),
      attribute('routes', 'routes'),
    ],
  },
  flows: {
    entityType: 'flow',
    sortBy: 'identity',
    columns: [
      attribute('id', 'identity'),
      attribute('address', 'address'),
      attribute('state', 'state'),
      attribute('bytes-in', 'bytesIn'),
      attribute('bytes-out', 'bytesOut'),
      attribute('role', 'role'),
    ],
  },
};

/** -g lists the router's attributes in this order; any others the router adds follow. */
const ROUTER_ATTRIBUTES = [
  'id', 'mode', 'version', 'helloIntervalSeconds', 'helloMaxAgeSeconds', 'connectionCount',
  'nodeCount', 'addrCount', 'linkCount', 'flowCount', 'uptimeSeconds',
];

export async function fetchSection(client: ManagementClient, section: SectionName): Promise<SectionData> {
  if (section === 'general') {
    const routers = await client.query('router');
    if (routers.length !== 1) {
      throw new RuntimeError(`the router answered QUERY ${longEntityType('router')} with ${routers.length} router entities, not 1`);
    }
    return { entities: routers };
  }
  const table = TABLES[section];
  if (section !== 'nodes') return { entities: sortEntities(await client.query(table.entityType), table.sortBy) };
  const [nodes, routers] = await Promise.all([client.query(table.entityType), client.query('router', ['id'])]);
  const selfId = routers[0]?.['id'];
  return { entities: sortEntities(nodes, table.sortBy), ...(typeof selfId === 'string' && { selfId }) };
}

export function renderSection(section: SectionName, data: SectionData, format: OutputFormat): string {
  if (format === 'json') {
    // -g is about one router: its object alone, not a list of one.
    const document = section === 'general' ? data.entities[0] : { entities: data.entities };
    return `${JSON.stringify(document, null, 2)}\n`;
  }
  if (section === 'general') return formatTable(['attribute', 'value'], attributeRows(data.entities[0] ?? {}));
  const { columns } = TABLES[section];
  return formatTable(
    columns.map((column) => column.header),
    data.entities.map((entity) => columns.map((column) => formatCell(column.cell(entity, data)))),
  );
}

function attributeRows(router: Entity): string[][] {
  const extra = Object.keys(router)
    .filter((name) => !ROUTER_ATTRIBUTES.includes(name))
    .sort();
  return [...ROUTER_ATTRIBUTES.filter((name) => name in router), ...extra].map((name) => [name, formatCell(router[name])]);
}

/** Rows in a stable order, `conn-2` before `conn-10`. */
function sortEntities(entities: readonly Entity[], key: string): Entity[] {
  const text = (entity: Entity) => formatCell(entity[key]);
  return [...entities].sort((a, b) => text(a).localeCompare(text(b), 'en', { numeric: true }));
}
