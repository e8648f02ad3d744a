// serialiseRouterConfig is the inverse of the parser: management edits the
// running config by serialising it, changing an entity and parsing it again.
import { describe, expect, it } from 'vitest';
import { parseRouterConfig, serialiseRouterConfig } from '../router/config/index.js';

describe('serialiseRouterConfig', () => {
  it('parse(serialise(config)) is the same config, with no warnings', () => {
    const text = JSON.stringify([
      ['router', { id: 'c0', mode: 'interior', helloMaxAgeSeconds: '3', metadata: '{"id":"c0"}' }],
      ['sslProfile', { name: 's', caCertFile: 'ca.crt', certFile: 'a.crt', privateKeyFile: 'a.key', password: 'pass:x' }],
      ['listener', { name: 'amqp', host: 'localhost', port: 5672 }],
      ['listener', { port: 9090, http: true }],
      ['connector', { name: 'l', role: 'inter-router', host: 'h', port: 1, sslProfile: 's', protocol: 'wss' }],
      ['address', { prefix: 'mc', distribution: 'multicast' }],
      ['tcpListener', { name: 'b', port: '1028', address: 'b' }],
      ['tcpConnector', { host: 'x', port: 2, address: 'c' }],
      ['log', { module: 'TCP_ADAPTOR', enable: 'debug+' }],
    ]);
    const first = parseRouterConfig(text).config;
    const again = parseRouterConfig(JSON.stringify(serialiseRouterConfig(first)));
    expect(again.config).toEqual(first);
    expect(again.warnings).toEqual([]);
  });
});
