// The two-router tunnel of the bench, described once and written out for each
// router implementation, so that kskup and skupper-router run the same setup:
//
//   router A (interior)                                router B (interior)
//   sslProfile: CA + server cert                       sslProfile: CA + client cert
//   listener role inter-router, authenticatePeer,  <── connector role inter-router to A
//     saslMechanisms EXTERNAL                            saslMechanisms EXTERNAL
//   tcpListener per address (iperf, echo)              tcpConnector per address -> the targets
//
// Both files are skupper-router's JSON config format: a list of [entityType,
// attributes] pairs, with skupper-router 3's entity and attribute names
// (sslProfile.caCertFile/certFile/privateKeyFile, listener.authenticatePeer, ...).
// The differences between the flavours are only what one of them lacks:
//
// - kskup: an HTTP listener per router (`http: true`) whose /metrics the bench
//   polls to know when the routes are up.
// - skrouterd: no HTTP listener (its /metrics has no such per-address gauge, and
//   the bench does not need libwebsockets to be there); a `log` entity that keeps
//   its default log at warning and above, as kskup's default info level logs
//   nothing per flow either.

/**
 * @typedef {object} TunnelDescription
 * @property {{ caCert: string, serverCert: string, serverKey: string, clientCert: string, clientKey: string }} pki  PEM file paths
 * @property {number} interRouterPort  A's inter-router listener (127.0.0.1)
 * @property {{ address: string, listenPort: number, targetPort: number }[]} services  one tcpListener on A and one tcpConnector on B each
 * @property {number} [maxFrameSize]  bytes, on A's inter-router listener and B's connector; absent = the default (16384)
 */

/**
 * The configs of routers A and B for one flavour.
 * @param {'kskup' | 'skrouterd'} flavour
 * @param {TunnelDescription} description
 * @param {{ httpPortA?: number, httpPortB?: number }} [extra]  kskup only: its metrics listeners
 * @returns {{ A: [string, object][], B: [string, object][] }}
 */
export function tunnelConfigs(flavour, description, extra = {}) {
  if (flavour !== 'kskup' && flavour !== 'skrouterd') throw new Error(`tunnelConfigs: unknown flavour "${flavour}" (kskup or skrouterd)`);
  const { pki, interRouterPort, services, maxFrameSize } = description;
  const frame = maxFrameSize ? { maxFrameSize } : {};
  // skupper-router wants entity names unique across all entity types of a router
  // (kskup only within a type), hence not "inter-router" for the sslProfile too.
  const ssl = (cert, key) => ['sslProfile', { name: 'inter-router-tls', caCertFile: pki.caCert, certFile: cert, privateKeyFile: key }];
  const flavourEntities = (httpPort) => {
    if (flavour === 'skrouterd') return [['log', { module: 'DEFAULT', enable: 'warning+' }]];
    if (httpPort === undefined) throw new Error('tunnelConfigs: kskup needs httpPortA and httpPortB');
    return [['listener', { name: 'http', host: '127.0.0.1', port: httpPort, http: true }]];
  };
  const A = [
    ['router', { id: 'A', mode: 'interior' }],
    ssl(pki.serverCert, pki.serverKey),
    ['listener', { name: 'inter-router', role: 'inter-router', host: '127.0.0.1', port: interRouterPort, sslProfile: 'inter-router-tls', authenticatePeer: true, saslMechanisms: 'EXTERNAL', ...frame }],
    ...flavourEntities(extra.httpPortA),
    ...services.map((s) => ['tcpListener', { name: s.address, host: '127.0.0.1', port: s.listenPort, address: s.address }]),
  ];
  const B = [
    ['router', { id: 'B', mode: 'interior' }],
    ssl(pki.clientCert, pki.clientKey),
    // "localhost": the name in A's server certificate, which both routers verify.
    ['connector', { name: 'to-A', role: 'inter-router', host: 'localhost', port: interRouterPort, sslProfile: 'inter-router-tls', saslMechanisms: 'EXTERNAL', ...frame }],
    ...flavourEntities(extra.httpPortB),
    ...services.map((s) => ['tcpConnector', { name: s.address, host: '127.0.0.1', port: s.targetPort, address: s.address }]),
  ];
  return { A, B };
}
