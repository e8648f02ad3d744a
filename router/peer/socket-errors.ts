// Short, human reasons for why a link is down, from the errors node:net, node:tls
// and rhea raise. These end up in logs and in `kskup link status`.
import type { TLSSocket } from 'node:tls';

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EPIPE: 'connection closed by peer',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: server certificate is not signed by the trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: server certificate is not signed by the trusted CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: server certificate is self-signed and not trusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS: server certificate is not signed by the trusted CA',
  CERT_HAS_EXPIRED: 'TLS: server certificate has expired',
  CERT_NOT_YET_VALID: 'TLS: server certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: server certificate does not match the host name',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'TLS: the peer requires a client certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'TLS: the peer does not trust our certificate (unknown CA)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'TLS: the peer rejected our certificate',
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: 'TLS: handshake failed (decrypt error)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS: the peer does not speak TLS',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'TLS: the peer does not speak TLS',
};

export function describeSocketError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'KSKUP_ESTABLISH_TIMEOUT' || code === 'KSKUP_CONNECT_TIMEOUT') return (error as Error).message;
  if (typeof code === 'string' && REASONS[code]) return REASONS[code];
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

/** Why a TLS server refused a client's handshake (the 'tlsClientError' event). */
export function describeTlsClientError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' || /peer did not return a certificate/i.test(message)) {
    return 'TLS: client presented no certificate';
  }
  if (/certificate verify failed|unknown ca|unable to get local issuer/i.test(message)) {
    return 'TLS: client certificate is not signed by the trusted CA';
  }
  if (code === 'ECONNRESET') return 'connection reset during TLS handshake';
  if (/wrong version number|http request|unexpected message/i.test(message)) return 'TLS: the client does not speak TLS';
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

/**
 * A client certificate that verifies but whose serial the listener's sslProfile
 * lists in revokedSerials: the site that granted the link has taken it back.
 */
export const REVOKED_CLIENT_CERTIFICATE = 'TLS: client certificate has been revoked';

/** Why a client certificate failed verification, from a TLS socket whose handshake is done. */
export function describeUnauthorizedClient(socket: TLSSocket): string {
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return 'TLS: client presented no certificate';
  const code = String(socket.authorizationError ?? 'unknown');
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return 'TLS: client certificate is not signed by the trusted CA';
    case 'CERT_HAS_EXPIRED':
      return 'TLS: client certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'TLS: client certificate is not valid yet';
    case 'INVALID_PURPOSE':
      return 'TLS: client certificate is not for client authentication';
    default:
      return `TLS: client certificate rejected (${code})`;
  }
}
