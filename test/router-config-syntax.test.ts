// skrouterd's two config syntaxes: the .conf format (blocks, `key: value`,
// `#` comments) and JSON with `#` comment lines, told apart by content; both
// camelCase hyphenated names, take skupper-router's booleans, and name the
// line of a problem.
import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem, parseRouterConfig } from '../router/config/index.js';

function problemsOf(text: string): string[] {
  try {
    parseRouterConfig(text);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map(formatProblem);
  }
}

const CONF = `# a router written the way skrouterd.conf(5) documents
router {
    mode: interior   # trailing comments are comments
    id: conf-A
    worker-threads: 2
}

listener {
    host: 127.0.0.1
    port: 20002
    role: inter-router
    authenticatePeer: no
    sasl-mechanisms: ANONYMOUS
    idle-timeout-seconds: 240
}

sslProfile {
    name: tls
    caCertFile: /pki/ca.pem
}

connector {
    name: to-b
    host: b.example
    port: amqps
    role: inter-router
    sslProfile: tls
    verifyHostname: off
    cost: 5
    openProperties: {
        # comment lines inside the JSON value are skipped too
        "foo": "bar",
        "nested": {"n": 1}
    }
}

address {
    pattern: a.#.b   # the # in a pattern is part of it
    distribution: closest
}

tcpConnector {
    address: db
    host: 10.0.0.5
    port: 5432
}

tcpConnector {
    address: db
    host: 10.0.0.6
    port: 5432
}

vhost {
    hostname: $default
    groups: {
        "$default": {"users": "*", "remoteHosts": "*"}
    }
}
`;

describe('the .conf syntax', () => {
  it('reads blocks, key: value lines, comments, hyphenated names, yes/no/on/off, service names and JSON values', () => {
    const { config, warnings, syntax } = parseRouterConfig(CONF, 'router.conf');
    expect(syntax).toBe('conf');
    expect(config.router).toEqual({ id: 'conf-A', mode: 'interior', helloIntervalSeconds: 1, helloMaxAgeSeconds: 3 });
    expect(config.listeners.get('listener/127.0.0.1:20002')).toMatchObject({ role: 'inter-router', authenticatePeer: false, saslMechanisms: 'ANONYMOUS', idleTimeoutSeconds: 240 });
    expect(config.connectors.get('to-b')).toMatchObject({ host: 'b.example', port: 5671, verifyHostname: false, cost: 5, sslProfile: 'tls' });
    expect(config.addresses).toEqual([{ pattern: 'a.#.b', distribution: 'closest' }]);
    // Two unnamed tcpConnectors for one address: skrouterd names them by host:port, so both load.
    expect([...config.tcpConnectors.keys()]).toEqual(['tcpConnector/10.0.0.5:5432', 'tcpConnector/10.0.0.6:5432']);
    expect(warnings).toEqual([
      'router "conf-A": attribute "workerThreads" is not supported by kskup yet and is ignored',
      'connector "to-b": attribute "openProperties" is not supported by kskup yet and is ignored',
      'entity type "vhost" is not supported by kskup yet and is ignored',
    ]);
  });

  it('gives the same config as the JSON form of the same file', () => {
    const conf = 'router {\n  id: same\n  mode: edge\n}\ntcpListener {\n  name: web\n  port: 8080\n  address: web\n  authenticate-peer: false\n}\n';
    const json = '[["router", {"id": "same", "mode": "edge"}], ["tcpListener", {"name": "web", "port": 8080, "address": "web", "authenticatePeer": false}]]';
    expect(parseRouterConfig(conf).config).toEqual(parseRouterConfig(json).config);
  });

  it.each<[string, string, string[]]>([
    ['a value outside its schema, with the line of the attribute', 'router {\n  id: r\n}\n\nlog {\n  module: DEFAULT\n  enable: notice+\n}\n', [
      `line 7: log "DEFAULT": enable "notice+" has unknown level "notice"; skupper-router 3's are none, debug, info, warning, error, critical (kskup also takes trace)`,
    ]],
    ['an entity type skupper-router 3 does not have, with its line', 'router {\n  id: r\n}\nlinkRoute {\n  prefix: q.\n  direction: in\n}\n', [
      `line 4: linkRoute #2: is not an entity type of skupper-router 3 (Qpid Dispatch Router's; skupper-router 3 has no link routes)`,
    ]],
    ['a missing closing brace', 'router {\n  id: r\n\nlistener {\n  port: 1\n}\n', [
      'line 4: file: "listener {" starts an entity inside router (line 1), which has not ended: a "}" is missing',
    ]],
    ['a file that ends inside an entity', 'router {\n  id: r\n', ['line 1: file: router does not end: a "}" is missing']],
    ['a line that is none of the forms', 'router {\n  id = r\n}\n', [
      'line 2: file: cannot read the line: expected "name: value", "name: {", "TYPE {" or "}", each on a line of its own',
    ]],
    ['a value outside an entity', 'mode: interior\n', ['line 1: file: cannot read "mode: ..." outside an entity: expected "TYPE {" on a line of its own']],
    ['a bad boolean and a bad attribute name', 'router {\n  mode: interior\n  id: r\n}\ntcpListener {\n  address: a\n  port: 1\n  authenticatePeer: maybe\n  bogus-thing: 1\n}\n', [
      'line 9: tcpListener "tcpListener/:1": unknown attribute "bogusThing"',
      'line 8: tcpListener "tcpListener/:1": authenticatePeer "maybe" is not a boolean (yes/no, true/false, on/off, 1/0)',
    ]],
  ])('%s', (_case, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('an empty file is a standalone router with a generated id, as skrouterd makes of it', () => {
    const { config } = parseRouterConfig('# nothing but a comment\n');
    expect(config.router).toMatchObject({ mode: 'standalone', idGenerated: true });
    expect(config.router.id).toMatch(/^Standalone_[A-Za-z0-9_-]{15}$/);
    expect(parseRouterConfig('').config.router.id).not.toBe(config.router.id);
  });
});

describe('JSON with # comment lines', () => {
  const JSON_WITH_COMMENTS = `##
## Licensed to ... (a header of comment lines)
##
[
    # a comment line inside the list
    ["router", {"mode": "interior", "id": "json-A"}],
    ## and another
    ["listener", {"port": 20000, "authenticatePeer": "no", "http": "on"}],
    ["log", {"module": "DEFAULT", "enable": "debug+"}]
]
`;

  it('skips lines whose first non-blank character is #, and takes yes/no/on/off strings as booleans', () => {
    const { config, syntax } = parseRouterConfig(JSON_WITH_COMMENTS);
    expect(syntax).toBe('json');
    expect(config.router.id).toBe('json-A');
    expect(config.listeners.get('listener/:20000')).toMatchObject({ port: 20000, authenticatePeer: false, http: true });
  });

  it('names the line of an entity with a problem, and the line and column of a syntax error', () => {
    expect(problemsOf(JSON_WITH_COMMENTS.replace('"debug+"', '"loud+"'))).toEqual([
      `line 9: log "DEFAULT": enable "loud+" has unknown level "loud"; skupper-router 3's are none, debug, info, warning, error, critical (kskup also takes trace)`,
    ]);
    expect(problemsOf(JSON_WITH_COMMENTS.replace('"http": "on"}],', '"http": "on"}]'))).toEqual(['file: is not valid JSON: expected "," or "]" at line 9, column 5']);
  });

  it.each([
    ['yes', true], ['No', false], ['ON', true], ['off', false], ['1', true], ['0', false], [1, true], [0, false], [true, true], ['False', false],
  ])('boolean %j is %j', (written, meaning) => {
    const { config } = parseRouterConfig(JSON.stringify([['router', { id: 'r' }], ['listener', { name: 'l', port: 1, http: written }]]));
    expect(config.listeners.get('l')?.http).toBe(meaning);
  });
});
