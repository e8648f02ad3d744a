import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import {
  ConfigError,
  diffRouterConfig,
  formatProblem,
  loadRouterConfigFile,
  parseRouterConfig,
  sameRouterConfig,
  type RouterConfig,
} from '../router/config/index.js';

// The config skupper writes for site c0, byte for byte.
const SEED_CONFIG = `[
  ["router", {"id": "c0", "mode": "interior", "helloMaxAgeSeconds": "3", "metadata": "{\\"id\\":\\"c0\\",\\"version\\":\\"1.0.2\\"}"}],
  ["listener", {"name": "amqp", "host": "localhost", "port": 5672}],
  ["listener", {"name": "interior-listener", "role": "inter-router", "port": 55671, "maxFrameSize": 16384, "maxSessionFrames": 640}],
  ["listener", {"name": "edge-listener", "role": "edge", "port": 45671, "maxFrameSize": 16384, "maxSessionFrames": 640}],
  ["listener", {"name": "@9090", "role": "normal", "port": 9090, "http": true, "httpRootDir": "disabled", "healthz": true, "metrics": true}],
  ["address", {"prefix": "mc", "distribution": "multicast"}],
  ["tcpListener", {"name": "backend:8080", "port": "1028", "address": "backend:8080", "siteId": "c0"}]
]`;

// The other side (site c1), which links to c0 and hosts the backend.
const PEER_CONFIG = `[
  ["router", {"id": "c1", "mode": "interior"}],
  ["connector", {"name": "link1", "role": "inter-router", "host": "localhost", "port": "55671", "cost": 1, "maxFrameSize": 16384, "maxSessionFrames": 640}],
  ["tcpConnector", {"name": "backend", "host": "localhost", "port": "8090", "address": "backend:8080", "siteId": "c1"}]
]`;

type Entity = [string, Record<string, unknown>];
const ROUTER: Entity = ['router', { id: 'r1' }];

function parse(entities: readonly unknown[]): ReturnType<typeof parseRouterConfig> {
  return parseRouterConfig(JSON.stringify(entities));
}

/** The problem lines a file produces, or [] when it parses. */
function problemLines(text: string): string[] {
  try {
    parseRouterConfig(text);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map(formatProblem);
  }
}

function configOf(entities: readonly unknown[]): RouterConfig {
  return parse(entities).config;
}

describe('parseRouterConfig: the skupper seed configs', () => {
  it('loads site c0 unchanged, warning only about what kskup ignores', () => {
    const { config, warnings } = parseRouterConfig(SEED_CONFIG, 'c0.json');
    expect(warnings).toEqual(['listener "@9090": attribute "httpRootDir" is not supported by kskup yet and is ignored']);
    expect(config.router).toEqual({
      id: 'c0',
      mode: 'interior',
      helloIntervalSeconds: 1,
      helloMaxAgeSeconds: 3,
      metadata: '{"id":"c0","version":"1.0.2"}',
    });
    expect([...config.listeners.keys()]).toEqual(['amqp', 'interior-listener', 'edge-listener', '@9090']);
    expect(config.listeners.get('amqp')).toMatchObject({ host: 'localhost', port: 5672, role: 'normal' });
    expect(config.listeners.get('interior-listener')).toMatchObject({
      host: '0.0.0.0',
      port: 55671,
      role: 'inter-router',
      maxSessionFrames: 640,
    });
    expect(config.listeners.get('@9090')).toMatchObject({ port: 9090, http: true, healthz: true, metrics: true });
    expect(config.addresses).toEqual([{ prefix: 'mc', distribution: 'multicast' }]);
    expect(config.tcpListeners.get('backend:8080')).toEqual({
      name: 'backend:8080',
      host: '0.0.0.0',
      port: 1028,
      address: 'backend:8080',
      backlog: 0,
      siteId: 'c0',
      authenticatePeer: false,
    });
  });

  it('loads site c1 with its inter-router connector and tcpConnector', () => {
    const { config, warnings } = parseRouterConfig(PEER_CONFIG);
    expect(warnings).toEqual([]);
    expect(config.connectors.get('link1')).toEqual({
      name: 'link1',
      host: 'localhost',
      port: 55671,
      role: 'inter-router',
      cost: 1,
      verifyHostname: true,
      maxFrameSize: 16384,
      maxSessionFrames: 640,
      idleTimeoutSeconds: 16,
      protocol: 'amqp',
      websocketPath: '/',
    });
    expect(config.tcpConnectors.get('backend')).toEqual({
      name: 'backend',
      host: 'localhost',
      port: 8090,
      address: 'backend:8080',
      siteId: 'c1',
      verifyHostname: true,
    });
  });

  it('loads a file from disk, and names the file when it cannot be read', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'kskup-config-'));
    try {
      const file = join(directory, 'skrouterd.json');
      await writeFile(file, SEED_CONFIG);
      const { config } = await loadRouterConfigFile(file);
      expect(config.router.id).toBe('c0');

      const missing = join(directory, 'missing.json');
      const error = await loadRouterConfigFile(missing).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ code: 'KSKUP_ROUTER_CONFIG_INVALID', file: missing });
      expect((error as ConfigError).message).toMatch(new RegExp(`^${missing}: 1 problem:\\n  file: cannot be read: ENOENT`));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('freezes the config, its entities and its maps', () => {
    const { config } = parseRouterConfig(SEED_CONFIG);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.router)).toBe(true);
    expect(Object.isFrozen(config.listeners.get('amqp'))).toBe(true);
    expect(Object.isFrozen(config.addresses)).toBe(true);
    expect(Object.isFrozen(config.addresses[0])).toBe(true);
    const listeners = config.listeners as Map<string, unknown>;
    expect(() => listeners.set('x', {})).toThrow(TypeError);
    expect(() => listeners.delete('amqp')).toThrow(TypeError);
    expect(listeners.size).toBe(4);
  });
});

describe('parseRouterConfig: defaults and lenient values', () => {
  it('fills in every default, and names unnamed entities as skrouterd does (TYPE/HOST:PORT as written)', () => {
    const config = configOf([
      ['router', { id: 'r1' }],
      ['listener', { port: 5672 }],
      ['connector', { host: 'peer', port: 55671 }],
      ['connector', { name: 'defaults' }],
      ['tcpListener', { port: 9000, address: 'db' }],
      ['tcpConnector', { host: 'db.local', port: 5432, address: 'db' }],
      ['tcpConnector', { port: '5433', address: 'db' }],
      ['address', { pattern: 'a.*' }],
      ['log', { module: 'tcp_adaptor' }],
    ]);
    expect(config.router).toEqual({ id: 'r1', mode: 'standalone', helloIntervalSeconds: 1, helloMaxAgeSeconds: 3 });
    expect(config.listeners.get('listener/:5672')).toEqual({
      name: 'listener/:5672',
      host: '0.0.0.0',
      port: 5672,
      role: 'normal',
      authenticatePeer: false,
      maxFrameSize: 16384,
      maxSessionFrames: 0,
      idleTimeoutSeconds: 16,
      http: false,
      healthz: true,
      metrics: true,
      websockets: true,
    });
    expect(config.connectors.get('connector/peer:55671')).toMatchObject({ role: 'normal', cost: 1, verifyHostname: true });
    expect(config.connectors.get('defaults')).toMatchObject({ host: '127.0.0.1', port: 5672 });
    expect(config.tcpListeners.get('tcpListener/:9000')).toEqual({ name: 'tcpListener/:9000', host: '0.0.0.0', port: 9000, address: 'db', backlog: 0, authenticatePeer: false });
    expect(config.tcpConnectors.get('tcpConnector/db.local:5432')).toEqual({ name: 'tcpConnector/db.local:5432', host: 'db.local', port: 5432, address: 'db', verifyHostname: true });
    expect(config.tcpConnectors.get('tcpConnector/127.0.0.1:5433')).toMatchObject({ host: '127.0.0.1', port: 5433, address: 'db' });
    expect(config.addresses).toEqual([{ pattern: 'a.*', distribution: 'balanced' }]);
    expect(config.logs).toEqual([{ module: 'TCP_ADAPTOR', level: 'info' }]);
  });

  it('accepts numbers and booleans written as strings, and service names as ports', () => {
    const config = configOf([
      ['router', { id: 'r1', helloIntervalSeconds: '2', helloMaxAgeSeconds: ' 6 ' }],
      ['listener', { name: 'l', port: 'amqps', http: 'true', healthz: 'FALSE', maxFrameSize: '65536' }],
      ['connector', { name: 'c', host: 'peer', port: 'amqp', verifyHostname: 'false', cost: '3' }],
      ['sslProfile', { name: 'tls', caCertFile: 'ca.pem', certFile: 'c.pem', privateKeyFile: 'k.pem' }],
      ['listener', { name: 'secure', port: '0', sslProfile: 'tls', authenticatePeer: 'true' }],
    ]);
    expect(config.router).toMatchObject({ helloIntervalSeconds: 2, helloMaxAgeSeconds: 6 });
    expect(config.listeners.get('l')).toMatchObject({ port: 5671, http: true, healthz: false, maxFrameSize: 65536 });
    expect(config.connectors.get('c')).toMatchObject({ port: 5672, verifyHostname: false, cost: 3 });
    expect(config.listeners.get('secure')).toMatchObject({ port: 0, authenticatePeer: true, sslProfile: 'tls' });
  });

  it('stringifies metadata written as an object', () => {
    const config = configOf([['router', { id: 'r1', metadata: { id: 'r1', version: '1.0.2' } }]]);
    expect(config.router.metadata).toBe('{"id":"r1","version":"1.0.2"}');
  });

  it.each([
    ['trace+', 'trace'],
    ['debug+', 'debug'],
    ['info+', 'info'],
    ['warning+', 'warn'],
    ['error+', 'error'],
    ['critical+', 'fatal'],
    ['none', 'silent'],
    ['info,error', 'info'],
    ['error, warning', 'warn'],
    ['trace,debug,info,warning,error,critical', 'trace'],
  ])('maps log enable %j to level %j', (enable, level) => {
    const config = configOf([ROUTER, ['log', { module: 'Router', enable }]]);
    expect(config.logs).toEqual([{ module: 'ROUTER', level }]);
  });
});

describe('parseRouterConfig: problems', () => {
  it.each<[string, string, string[]]>([
    ['invalid JSON', '[["router", {"id": "r1"}],\n  ["listener" {"port": 1}]\n]', [
      'file: is not valid JSON: expected "," or "]" at line 2, column 15',
    ]],
    ['truncated JSON', '[["router", {"id": "r1"}]', ['file: is not valid JSON: unexpected end of input at line 1, column 26']],
    ['a top level that is not an array', '{"router": {}}', [
      'file: must be an array of [type, attributes] pairs, not an object',
    ]],
  ])('%s', (_case, text, expected) => {
    expect(problemLines(text)).toEqual(expected);
  });

  it.each<[string, unknown[], string[]]>([
    ['malformed entities', [ROUTER, 'listener', ['listener'], [5, {}], ['listener', [1]]], [
      'entity #2: must be a [type, attributes] pair, not a string',
      'entity #3: must be a [type, attributes] pair, not an array of 1',
      'entity #4: type must be a string, not a number',
      'entity #5: attributes of "listener" must be an object, not an array',
    ]],
    ['an unknown entity type', [ROUTER, ['tcplistener', { port: 1 }], ['bogus', {}]], [
      'entity #2: unknown entity type "tcplistener" (did you mean "tcpListener"?)',
      'entity #3: unknown entity type "bogus"',
    ]],
    ['two routers', [ROUTER, ['router', {}]], [
      'router #2: only one "router" entity is allowed; the first is entity #1',
    ]],
    ['unknown attributes', [ROUTER, ['listener', { name: 'amqp', port: 5672, prot: 1, bogusThing: true }]], [
      'listener "amqp": unknown attribute "prot" (did you mean "port"?)',
      'listener "amqp": unknown attribute "bogusThing"',
    ]],
    ['bad numbers', [ROUTER, ['listener', { name: 'amqp', port: '80a' }], ['listener', { name: 'x', port: 70000 }],
      ['listener', { name: 'y', port: 1.5, maxFrameSize: 100 }]], [
      'listener "amqp": port "80a" is not a number',
      'listener "x": port 70000 is out of range 0-65535',
      'listener "y": port 1.5 is not an integer',
      'listener "y": maxFrameSize 100 must be at least 512',
    ]],
    ['connector ports must not be 0', [ROUTER, ['connector', { name: 'c', host: 'h', port: 0 }],
      ['tcpConnector', { name: 't', host: 'h', port: '0', address: 'a' }]], [
      'connector "c": port 0 is out of range 1-65535',
      'tcpConnector "t": port "0" is out of range 1-65535',
    ]],
    ['bad enums and booleans', [ROUTER, ['listener', { name: 'x', port: 1, role: 'foo', http: 'maybe' }],
      ['address', { prefix: 'p', distribution: 'fanout' }], ['router', { id: 'r2', mode: 'solo' }]], [
      'listener "x": role "foo" must be one of normal, inter-router, route-container, edge, inter-edge, inter-network',
      'listener "x": http "maybe" is not a boolean (yes/no, true/false, on/off, 1/0)',
      'address "p": distribution "fanout" must be one of balanced, closest, multicast, unavailable',
      'router "r2": mode "solo" must be one of standalone, interior, edge',
      'router "r2": only one "router" entity is allowed; the first is entity #1',
    ]],
    ['missing and empty required attributes', [ROUTER, ['tcpConnector', { name: 'c' }], ['tcpListener', { port: 1, address: '' }],
      ['sslProfile', {}]], [
      'tcpConnector "c": port is required',
      'tcpConnector "c": address is required',
      'tcpListener "tcpListener/:1": address must not be empty',
      'sslProfile #4: name is required',
    ]],
    ['wrong types', [['router', { id: 7 }], ['tcpConnector', { name: 't', host: ['h'], port: 1, address: 'a' }]], [
      'router #1: id 7 is not a string',
      'tcpConnector "t": host ["h"] is not a string',
    ]],
    ['listener and connector labels from host:port', [ROUTER, ['listener', { host: 'localhost', port: 'amqp', role: 'x' }],
      ['connector', { host: 'peer', port: 55671, cost: 0 }]], [
      'listener "listener/localhost:amqp": role "x" must be one of normal, inter-router, route-container, edge, inter-edge, inter-network',
      'connector "connector/peer:55671": cost 0 is out of range 1-2147483647',
    ]],
    ['sslProfile rules', [ROUTER, ['sslProfile', { name: 'a', certFile: 'c.pem' }], ['sslProfile', { name: 'b', privateKeyFile: 'k.pem' }],
      ['listener', { name: 'l', port: 1, sslProfile: 'missing' }], ['listener', { name: 'm', port: 2, authenticatePeer: true }],
      ['connector', { name: 'c', host: 'h', port: 3, sslProfile: 'nope' }]], [
      'sslProfile "a": certFile is set but privateKeyFile is not',
      'sslProfile "b": privateKeyFile is set but certFile is not',
      'listener "l": sslProfile "missing" does not name an sslProfile in this file',
      'listener "m": authenticatePeer requires sslProfile',
      'connector "c": sslProfile "nope" does not name an sslProfile in this file',
    ]],
    ['address needs exactly one of prefix and pattern', [ROUTER, ['address', {}], ['address', { prefix: 'a', pattern: 'b' }]], [
      'address #2: has neither prefix nor pattern; give exactly one',
      'address "a": has both prefix and pattern; give exactly one',
    ]],
    ['unknown log levels', [ROUTER, ['log', { module: 'router', enable: 'info+,loud,quiet' }], ['log', { enable: 'info+' }]], [
      `log "ROUTER": enable "info+,loud,quiet" has unknown levels "loud", "quiet"; skupper-router 3's are none, debug, info, warning, error, critical (kskup also takes trace)`,
      'log #3: module is required',
    ]],
    ['duplicate names', [ROUTER, ['tcpListener', { name: 'x', port: 1, address: 'a' }], ['tcpListener', { name: 'x', port: 2, address: 'b' }],
      ['tcpConnector', { host: 'h', port: 1, address: 'db' }], ['tcpConnector', { host: 'h', port: 1, address: 'db2' }]], [
      'tcpListener "x": name "x" is already used by entity #2',
      'tcpConnector "tcpConnector/h:1": has no name and its default name "tcpConnector/h:1" is already used by entity #4',
    ]],
    ['cost up to 2147483647', [ROUTER, ['connector', { name: 'c', host: 'h', port: 1, cost: 2147483648 }]], [
      'connector "c": cost 2147483648 is out of range 1-2147483647',
    ]],
    ['roles a standalone router may not have', [['router', { id: 's' }], ['listener', { name: 'ir', port: 1, role: 'inter-router' }],
      ['connector', { name: 'e', host: 'h', port: 2, role: 'edge' }]], [
      'listener "ir": role "inter-router" is not allowed on a router in mode "standalone" (the default when mode is absent); set mode "interior"',
      'connector "e": role "edge" is not allowed on a router in mode "standalone" (the default when mode is absent); set mode "interior"',
    ]],
    ['values outside the schema of ignored attributes and entity types', [ROUTER, ['router', { id: 'r2' }].slice(0, 0) as never,
      ['listener', { name: 'l', port: 1, stripAnnotations: 'sometimes', maxSessions: 'many' }], ['network', { tenantId: ['x'] }],
      ['listenerAddress', { address: 'a' }], ['connection', {}], ['linkRoute', { prefix: 'q.' }]].filter((e) => e.length > 0), [
      'listener "l": stripAnnotations "sometimes" must be one of in, out, both, no',
      'listener "l": maxSessions "many" is not a number',
      'network #3: tenantId ["x"] is not a string',
      'listenerAddress #4: value is required',
      'listenerAddress #4: listener is required',
      'connection #5: is an operational entity type (management shows it); a config file cannot create one',
      'linkRoute #6: is not an entity type of skupper-router 3 (Qpid Dispatch Router\'s; skupper-router 3 has no link routes)',
    ]],
    ['two sockets on one port', [ROUTER, ['listener', { name: 'amqp', host: 'localhost', port: 5672 }],
      ['tcpListener', { name: 't', port: 5672, address: 'a' }], ['listener', { name: 'l', host: 'localhost', port: 5672 }],
      ['listener', { name: 'e1', port: 0 }], ['listener', { name: 'e2', port: 0 }], ['listener', { name: 'other', host: '127.0.0.2', port: 5673 }]], [
      'tcpListener "t": port 5672 is already bound by listener "amqp" (localhost:5672)',
      'listener "l": port 5672 is already bound by listener "amqp" (localhost:5672)',
    ]],
  ])('%s', (_case, entities, expected) => {
    expect(problemLines(JSON.stringify(entities))).toEqual(expected);
  });

  it('reports every problem of a file at once, in file order', () => {
    const text = JSON.stringify([
      ['listener', { name: 'amqp', prot: 5672 }],
      ['tcpListener', { name: 'backend:8080', port: '80a', address: 'backend:8080' }],
      ['tcpConnector', { name: 'backend', host: 'localhost', port: 70000, address: 'backend:8080', siteId: 3 }],
      ['log', { module: 'TCP_ADAPTOR', enable: 'chatty+' }],
    ]);
    let caught: unknown;
    try {
      parseRouterConfig(text, '/etc/skupper-router/skrouterd.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('KSKUP_ROUTER_CONFIG_INVALID');
    expect(error.file).toBe('/etc/skupper-router/skrouterd.json');
    expect(error.problems[1]).toEqual({ entity: 'tcpListener "backend:8080"', attribute: 'port', message: '"80a" is not a number' });
    expect(error.message).toBe(
      [
        '/etc/skupper-router/skrouterd.json: 5 problems:',
        '  listener "amqp": unknown attribute "prot" (did you mean "port"?)',
        '  tcpListener "backend:8080": port "80a" is not a number',
        '  tcpConnector "backend": port 70000 is out of range 1-65535',
        '  tcpConnector "backend": siteId 3 is not a string',
        `  log "TCP_ADAPTOR": enable "chatty+" has unknown level "chatty"; skupper-router 3's are none, debug, info, warning, error, critical (kskup also takes trace)`,
      ].join('\n'),
    );
  });

  it('never puts a password in a problem or a warning', () => {
    const secret = 'hunter2-secret';
    const entities = [
      ROUTER,
      ['sslProfile', { name: 'a', password: secret, passwordFile: secret, ciphers: secret, certFile: 'c.pem' }],
      ['sslProfile', { name: 'b', password: [secret] }],
      ['sslProfile', secret],
    ];
    let message = '';
    try {
      parse(entities);
    } catch (error) {
      message = error instanceof Error ? error.message : String(error);
    }
    expect(message).toContain('sslProfile "b": password is not a string');
    expect(message).not.toContain('hunter2');
    expect(problemLines(`[["sslProfile", {"name": "a", "password": hunter2-secret}]]`).join('\n')).not.toContain('hunter2');
  });
});

describe('parseRouterConfig: warnings', () => {
  it('warns once per entity type and attribute that kskup does not implement', () => {
    const { warnings } = parse([
      ['router', { id: 'r1', workerThreads: 4, name: 'r1' }],
      ['listener', { name: 'a', port: 1, httpRootDir: 'x', requireSsl: false }],
      ['listener', { name: 'b', port: 2, httpRootDir: 'y' }],
      ['connector', { name: 'c', host: 'h', port: 3, healthz: true }],
      ['sslProfile', { name: 's', uidFormat: 'cou' }],
      ['tcpListener', { name: 't', port: 4, address: 'a', observer: 'auto' }],
      ['site', { name: 'x', platform: 'podman' }],
      ['site', { name: 'y' }],
      ['network', { tenantId: 't1' }],
      ['listener', { name: 'rc', port: 6, role: 'route-container' }],
      ['listener', { name: 'ie', port: 7, role: 'inter-edge' }],
      ['address', { prefix: 'u', distribution: 'unavailable' }],
    ]);
    expect(warnings).toEqual([
      'router "r1": attribute "workerThreads" is not supported by kskup yet and is ignored',
      'listener "a": attribute "httpRootDir" is not supported by kskup yet and is ignored',
      'connector "c": attribute "healthz" is not in skupper-router 3 and is ignored',
      'sslProfile "s": attribute "uidFormat" is not supported by kskup yet and is ignored',
      'tcpListener "t": attribute "observer" is not supported by kskup yet and is ignored',
      'entity type "site" is not supported by kskup yet and is ignored',
      'entity type "network" is not supported by kskup yet and is ignored',
      'listener "rc": role "route-container" is run as "normal" (kskup has no link routes)',
      'listener "ie": role "inter-edge" is not supported by kskup; the entity is ignored',
      'address "u": distribution "unavailable" is not supported by kskup; the entity is ignored',
    ]);
  });
});

describe('diffRouterConfig', () => {
  const base: unknown[] = [
    ['router', { id: 'r1', mode: 'interior' }],
    ['listener', { name: 'amqp', port: 5672 }],
    ['connector', { name: 'link1', host: 'peer', port: 55671, role: 'inter-router' }],
    ['sslProfile', { name: 'tls', caCertFile: 'ca.pem' }],
    ['tcpListener', { name: 'db', port: 9000, address: 'db' }],
    ['tcpConnector', { name: 'web', host: 'web', port: 80, address: 'web' }],
    ['address', { prefix: 'mc', distribution: 'multicast' }],
    ['log', { module: 'DEFAULT', enable: 'info+' }],
  ];

  it('is empty for identical configs, and for the same file parsed twice', () => {
    const diff = diffRouterConfig(configOf(base), configOf(base));
    expect(diff.empty).toBe(true);
    expect(diff.listeners).toEqual({ added: [], removed: [], changed: [] });
    expect(sameRouterConfig(configOf(base), configOf(base))).toBe(true);
    expect(sameRouterConfig(parseRouterConfig(SEED_CONFIG).config, parseRouterConfig(SEED_CONFIG).config)).toBe(true);
  });

  it('treats values written differently but meaning the same as equal', () => {
    const rewritten = base.map((entity) =>
      entity === base[1] ? ['listener', { name: 'amqp', port: 'amqp', role: 'normal', http: 'false' }] : entity,
    );
    expect(sameRouterConfig(configOf(base), configOf(rewritten))).toBe(true);
  });

  it('reports added, removed and changed entities per kind', () => {
    const before = configOf(base);
    const after = configOf([
      ['router', { id: 'r1', mode: 'interior' }],
      ['listener', { name: 'amqp', port: 5673 }],
      ['listener', { name: 'metrics', port: 9090, http: true }],
      ['sslProfile', { name: 'tls', caCertFile: 'ca.pem' }],
      ['sslProfile', { name: 'tls2', caCertFile: 'ca2.pem' }],
      ['tcpListener', { name: 'db', port: 9000, address: 'db2' }],
      ['tcpConnector', { name: 'web', host: 'web', port: 80, address: 'web' }],
      ['address', { prefix: 'mc', distribution: 'multicast' }],
      ['log', { module: 'DEFAULT', enable: 'info+' }],
    ]);
    const diff = diffRouterConfig(before, after);
    expect(diff.empty).toBe(false);
    expect(diff.listeners.added).toEqual([after.listeners.get('metrics')]);
    expect(diff.listeners.removed).toEqual([]);
    expect(diff.listeners.changed).toEqual([{ before: before.listeners.get('amqp'), after: after.listeners.get('amqp') }]);
    expect(diff.connectors).toEqual({ added: [], removed: [before.connectors.get('link1')], changed: [] });
    expect(diff.sslProfiles).toEqual({ added: [after.sslProfiles.get('tls2')], removed: [], changed: [] });
    expect(diff.tcpListeners.changed.map(({ before: b, after: a }) => [b.address, a.address])).toEqual([['db', 'db2']]);
    expect(diff.tcpConnectors).toEqual({ added: [], removed: [], changed: [] });
    expect([diff.routerChanged, diff.addressesChanged, diff.logsChanged]).toEqual([false, false, false]);
  });

  it('reports router, address and log changes as wholes', () => {
    const changed = base.map((entity) => {
      if (entity === base[0]) return ['router', { id: 'r1', mode: 'interior', helloMaxAgeSeconds: 6 }];
      if (entity === base[6]) return ['address', { prefix: 'mc', distribution: 'closest' }];
      if (entity === base[7]) return ['log', { module: 'DEFAULT', enable: 'debug+' }];
      return entity;
    });
    const diff = diffRouterConfig(configOf(base), configOf(changed));
    expect([diff.routerChanged, diff.addressesChanged, diff.logsChanged, diff.empty]).toEqual([true, true, true, false]);
    expect(diff.listeners).toEqual({ added: [], removed: [], changed: [] });
    expect(sameRouterConfig(configOf(base), configOf(changed))).toBe(false);
  });
});

// Every attribute that asks for security is honoured or is an error naming the
// entity and attribute: never a warning (docs/security-attributes.md).
describe('parseRouterConfig: security attributes', () => {
  const SERVER_PROFILE: Entity = ['sslProfile', { name: 'srv', caCertFile: 'ca.pem', certFile: 'c.pem', privateKeyFile: 'k.pem' }];
  const CA_ONLY: Entity = ['sslProfile', { name: 'ca', caCertFile: 'ca.pem' }];
  const CERT_ONLY: Entity = ['sslProfile', { name: 'cert', certFile: 'c.pem', privateKeyFile: 'k.pem' }];

  it.each<[string, Entity[], string]>([
    ['listener requireSsl without sslProfile', [['listener', { name: 'l', port: 1, requireSsl: true }]], 'listener "l": requireSsl is true but the listener has no sslProfile to serve TLS with'],
    ['listener requireEncryption without sslProfile', [['listener', { name: 'l', port: 1, requireEncryption: 'true' }]], 'listener "l": requireEncryption is true but the listener has no sslProfile to serve TLS with'],
    ['listener trustedCertsFile', [['listener', { name: 'l', port: 1, trustedCertsFile: 'ca.pem' }]], `listener "l": trustedCertsFile is not supported; put the CA in the sslProfile's caCertFile`],
    ['listener saslPlugin', [['listener', { name: 'l', port: 1, saslPlugin: 'auth' }]], 'listener "l": saslPlugin is not supported: kskup has no external authentication service; use authenticatePeer with an sslProfile'],
    ['listener policyVhost', [['listener', { name: 'l', port: 1, policyVhost: 'v' }]], 'listener "l": policyVhost is not supported: kskup enforces no vhost policy, so the limits it names would not apply'],
    ['listener saslMechanisms PLAIN', [['listener', { name: 'l', port: 1, saslMechanisms: 'ANONYMOUS PLAIN' }]], 'listener "l": saslMechanisms "PLAIN" cannot be offered by kskup, which supports only EXTERNAL and ANONYMOUS'],
    ['listener saslMechanisms EXTERNAL without authenticatePeer', [SERVER_PROFILE, ['listener', { name: 'l', port: 1, sslProfile: 'srv', saslMechanisms: 'EXTERNAL' }]], 'listener "l": saslMechanisms EXTERNAL needs authenticatePeer true (the client certificate is the identity)'],
    ['listener authenticatePeer without sslProfile', [['listener', { name: 'l', port: 1, authenticatePeer: true }]], 'listener "l": authenticatePeer requires sslProfile'],
    ['listener authenticatePeer with a profile without caCertFile', [CERT_ONLY, ['listener', { name: 'l', port: 1, sslProfile: 'cert', authenticatePeer: true }]], 'listener "l": authenticatePeer needs a caCertFile in sslProfile "cert" to verify client certificates with'],
    ['listener with a profile without certFile', [CA_ONLY, ['listener', { name: 'l', port: 1, sslProfile: 'ca' }]], 'listener "l": sslProfile "ca" has no certFile and privateKeyFile, which a TLS server needs'],
    ['connector with a profile without caCertFile', [CERT_ONLY, ['connector', { name: 'c', host: 'h', port: 1, sslProfile: 'cert' }]], `connector "c": sslProfile "cert" has no caCertFile, which is needed to verify the server's certificate`],
    ['connector saslMechanisms EXTERNAL without a certificate', [CA_ONLY, ['connector', { name: 'c', host: 'h', port: 1, sslProfile: 'ca', saslMechanisms: 'EXTERNAL' }]], 'connector "c": saslMechanisms EXTERNAL needs a certFile in sslProfile "ca" to present'],
    ['connector saslMechanisms SCRAM', [['connector', { name: 'c', host: 'h', port: 1, saslMechanisms: 'SCRAM-SHA-256' }]], 'connector "c": saslMechanisms "SCRAM-SHA-256" cannot be offered by kskup, which supports only EXTERNAL and ANONYMOUS'],
    ['connector saslUsername', [['connector', { name: 'c', host: 'h', port: 1, saslUsername: 'u' }]], 'connector "c": saslUsername is not supported: kskup cannot authenticate with SASL PLAIN; use an sslProfile with certFile (SASL EXTERNAL)'],
    ['connector saslPassword', [['connector', { name: 'c', host: 'h', port: 1, saslPassword: 'env:PW' }]], 'connector "c": saslPassword is not supported: kskup cannot authenticate with SASL PLAIN; use an sslProfile with certFile (SASL EXTERNAL)'],
    ['sslProfile trustedCertsFile', [['sslProfile', { name: 's', trustedCertsFile: 'ca.pem' }]], 'sslProfile "s": trustedCertsFile is not supported (skupper-router 3 has no such attribute); put the trusted CAs in caCertFile'],
    ['sslProfile passwordFile', [['sslProfile', { name: 's', passwordFile: '/pw' }]], 'sslProfile "s": passwordFile is not supported; write password "file:PATH" instead'],
    ['sslProfile protocols with an unknown version', [['sslProfile', { name: 's', protocols: 'TLSv1.2 SSLv3' }]], 'sslProfile "s": protocols "SSLv3" is not a TLS version; use TLSv1, TLSv1.1, TLSv1.2, TLSv1.3'],
    ['sslProfile protocols with a gap', [['sslProfile', { name: 's', protocols: 'TLSv1.1 TLSv1.3' }]], 'sslProfile "s": protocols "TLSv1.1 TLSv1.3" leaves a gap; kskup (node:tls) can only enable a contiguous range of versions, such as "TLSv1.2 TLSv1.3"'],
    ['sslProfile empty protocols', [['sslProfile', { name: 's', protocols: ' ' }]], 'sslProfile "s": protocols must name at least one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3'],
    ['tcpListener authenticatePeer without sslProfile', [['tcpListener', { name: 't', port: 1, address: 'a', authenticatePeer: true }]], 'tcpListener "t": authenticatePeer requires sslProfile'],
    ['tcpListener with a profile without certFile', [CA_ONLY, ['tcpListener', { name: 't', port: 1, address: 'a', sslProfile: 'ca' }]], 'tcpListener "t": sslProfile "ca" has no certFile and privateKeyFile, which a TLS server needs'],
    ['tcpListener authenticatePeer with a profile without caCertFile', [CERT_ONLY, ['tcpListener', { name: 't', port: 1, address: 'a', sslProfile: 'cert', authenticatePeer: true }]], 'tcpListener "t": authenticatePeer needs a caCertFile in sslProfile "cert" to verify client certificates with'],
    ['tcpListener with an unknown sslProfile', [['tcpListener', { name: 't', port: 1, address: 'a', sslProfile: 'nope' }]], 'tcpListener "t": sslProfile "nope" does not name an sslProfile in this file'],
    ['tcpListener verifyHostname', [['tcpListener', { name: 't', port: 1, address: 'a', verifyHostname: true }]], 'tcpListener "t": verifyHostname has no meaning on a tcpListener (it checks a server certificate, for a tcpConnector); use authenticatePeer to verify clients'],
    ['tcpConnector with a profile without caCertFile', [CERT_ONLY, ['tcpConnector', { name: 't', host: 'h', port: 1, address: 'a', sslProfile: 'cert' }]], `tcpConnector "t": sslProfile "cert" has no caCertFile, which is needed to verify the server's certificate`],
    ['router enableVhostPolicy', [['router', { id: 'r1', enableVhostPolicy: true }]], 'router "r1": enableVhostPolicy is not supported: kskup enforces no vhost policy, so the limits it names would not apply'],
    ['policy entity', [['policy', { maxConnections: 10 }]], 'policy #2: is not supported: kskup enforces no connection or vhost policy, so the limits it asks for would not apply'],
    ['authServicePlugin entity', [['authServicePlugin', { name: 'a', host: 'h', port: 1 }]], 'authServicePlugin #2: is not an entity type of skupper-router 3 (Qpid Dispatch Router\'s external authentication service; use authenticatePeer with an sslProfile)'],
  ])('%s is an error', (_what, entities, expected) => {
    const withRouter = entities.some(([type]) => type === 'router') ? entities : [ROUTER, ...entities];
    expect(problemLines(JSON.stringify(withRouter))).toEqual([expected]);
  });

  it.each<[string, Entity[], (config: RouterConfig) => unknown, unknown]>([
    ['listener requireSsl with an sslProfile', [SERVER_PROFILE, ['listener', { name: 'l', port: 1, sslProfile: 'srv', requireSsl: true, requireEncryption: true }]], (c) => c.listeners.get('l'), expect.objectContaining({ requireSsl: true, requireEncryption: true, sslProfile: 'srv' })],
    ['listener saslMechanisms EXTERNAL with authenticatePeer', [SERVER_PROFILE, ['listener', { name: 'l', port: 1, sslProfile: 'srv', authenticatePeer: true, saslMechanisms: 'external' }]], (c) => c.listeners.get('l')?.saslMechanisms, 'EXTERNAL'],
    ['connector saslMechanisms EXTERNAL with a certificate', [SERVER_PROFILE, ['connector', { name: 'c', host: 'h', port: 1, sslProfile: 'srv', saslMechanisms: 'EXTERNAL' }]], (c) => c.connectors.get('c')?.saslMechanisms, 'EXTERNAL'],
    ['sslProfile protocols and ciphers', [['sslProfile', { name: 's', protocols: 'TLSv1.3 TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }]], (c) => c.sslProfiles.get('s'), expect.objectContaining({ protocols: 'TLSv1.3 TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })],
    ['tcpListener sslProfile and authenticatePeer', [SERVER_PROFILE, ['tcpListener', { name: 't', port: 1, address: 'a', sslProfile: 'srv', authenticatePeer: 'true' }]], (c) => c.tcpListeners.get('t'), expect.objectContaining({ sslProfile: 'srv', authenticatePeer: true })],
    ['tcpConnector sslProfile and verifyHostname', [CA_ONLY, ['tcpConnector', { name: 't', host: 'h', port: 1, address: 'a', sslProfile: 'ca', verifyHostname: false }]], (c) => c.tcpConnectors.get('t'), expect.objectContaining({ sslProfile: 'ca', verifyHostname: false })],
    ['connector verifyHostname (default true)', [CA_ONLY, ['connector', { name: 'c', host: 'h', port: 1, sslProfile: 'ca' }]], (c) => c.connectors.get('c')?.verifyHostname, true],
  ])('%s is honoured', (_what, entities, pick, expected) => {
    const { config, warnings } = parse([ROUTER, ...entities]);
    expect(warnings).toEqual([]);
    expect(pick(config)).toEqual(expected);
  });
});
