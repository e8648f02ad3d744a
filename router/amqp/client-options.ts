// rhea connect options for a client of a kskup (or skupper) router: plain AMQP,
// or TLS, with SASL EXTERNAL when a client certificate is given. Shared by the
// management client and the site controller's service-sync client.
import { isIP } from 'node:net';
import type { ConnectionOptions, Container } from 'rhea';

export interface AmqpClientTarget {
  readonly host: string;
  readonly port: number;
  /** Present: connect with TLS; with a client certificate, authenticate with SASL EXTERNAL. */
  readonly tls?: {
    readonly ca?: Buffer;
    readonly cert?: Buffer;
    readonly key?: Buffer;
    /** The name the server's certificate must carry when it is not `host` (a pod reached at its IP that serves as its Service's DNS name). */
    readonly serverName?: string;
  };
}

/** `extra`: the caller's own settings (reconnect and the like). The SASL settings are ones rhea's typings leave out. */
export function clientConnectionOptions(target: AmqpClientTarget, container: Container, extra: Record<string, unknown> = {}): ConnectionOptions {
  const mechanisms = container.sasl.client_mechanisms();
  const withCertificate = target.tls?.cert !== undefined;
  if (withCertificate) mechanisms.enable_external();
  // ANONYMOUS as well: a router that does not authenticate clients offers only that.
  mechanisms.enable_anonymous('kskup');
  const common = { host: target.host, port: target.port, sasl_mechanisms: mechanisms, ...extra };
  if (!target.tls) return common as ConnectionOptions;
  return {
    ...common,
    transport: 'tls',
    ca: target.tls.ca,
    cert: target.tls.cert,
    key: target.tls.key,
    enable_sasl_external: withCertificate,
    // No SNI for an IP address (RFC 6066); Node still checks the certificate against the host.
    servername: target.tls.serverName ?? (isIP(target.host) ? '' : target.host),
  } as ConnectionOptions;
}
