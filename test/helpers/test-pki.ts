// A throwaway PKI on disk for tests that need real mutual TLS: one CA with a
// server, a client and a dual-use leaf, plus an unrelated CA and a client it
// signed, so that "a certificate from the wrong CA is refused" can be shown.

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createCertificateAuthority, issueCertificate } from '../../site-controller/pki/index.js';

/** Absolute paths of the files createTestPki() wrote. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  /** usage 'server', hosts localhost and 127.0.0.1. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** usage 'client', no hosts. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** usage 'both', hosts localhost and 127.0.0.1: a router's cert serves its listener and its connectors. */
  readonly bothCert: string;
  readonly bothKey: string;
  /** An unrelated CA: nothing above chains to it. */
  readonly otherCaCert: string;
  /** usage 'client', signed by the other CA. */
  readonly otherClientCert: string;
  readonly otherClientKey: string;
}

const LOCAL_HOSTS = ['localhost', '127.0.0.1'];

export async function createTestPki(dir: string): Promise<TestPki> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  // The two CAs are independent, so their keys are generated concurrently.
  const [ca, otherCa] = await Promise.all([
    createCertificateAuthority({ commonName: 'kskup-test-ca' }),
    createCertificateAuthority({ commonName: 'kskup-test-other-ca' }),
  ]);
  const [server, client, both, otherClient] = await Promise.all([
    issueCertificate(ca, { commonName: 'localhost', hosts: LOCAL_HOSTS, usage: 'server' }),
    issueCertificate(ca, { commonName: 'kskup-test-client', usage: 'client' }),
    issueCertificate(ca, { commonName: 'kskup-test-router', hosts: LOCAL_HOSTS, usage: 'both' }),
    issueCertificate(otherCa, { commonName: 'kskup-test-other-client', usage: 'client' }),
  ]);

  const write = (name: string, pem: string): Promise<string> => writePem(root, name, pem, false);
  const writeKey = (name: string, pem: string): Promise<string> => writePem(root, name, pem, true);
  const [caCert, caKey, serverCert, serverKey, clientCert, clientKey, bothCert, bothKey, otherCaCert, otherClientCert, otherClientKey] =
    await Promise.all([
      write('ca.crt', ca.certPem),
      writeKey('ca.key', ca.keyPem),
      write('server.crt', server.certPem),
      writeKey('server.key', server.keyPem),
      write('client.crt', client.certPem),
      writeKey('client.key', client.keyPem),
      write('both.crt', both.certPem),
      writeKey('both.key', both.keyPem),
      write('other-ca.crt', otherCa.certPem),
      write('other-client.crt', otherClient.certPem),
      writeKey('other-client.key', otherClient.keyPem),
    ]);
  return {
    dir: root,
    caCert,
    caKey,
    serverCert,
    serverKey,
    clientCert,
    clientKey,
    bothCert,
    bothKey,
    otherCaCert,
    otherClientCert,
    otherClientKey,
  };
}

/** Writes one PEM file and returns its absolute path; keys end up mode 0600. */
async function writePem(dir: string, name: string, pem: string, secret: boolean): Promise<string> {
  const path = resolve(dir, name);
  const mode = secret ? 0o600 : 0o644;
  await writeFile(path, pem, { mode });
  // `mode` only applies when the file is created; a rerun into the same
  // directory would otherwise keep whatever mode the old file had.
  await chmod(path, mode);
  return path;
}
