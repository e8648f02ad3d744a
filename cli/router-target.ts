// Turns the "which router" options shared by router commands (--host/--port or
// --config, and the --ssl-* files) into a management target.
import { readFile } from 'node:fs/promises';
import { readNormalListener } from './config-listener.js';
import { fileProblem, RuntimeError, UsageError } from './errors.js';
import type { ManagementTarget } from '../router/management/management-client.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 5672;

export interface RouterAddressOptions {
  readonly host?: string;
  readonly port?: number;
  readonly config?: string;
  readonly sslCa?: string;
  readonly sslCert?: string;
  readonly sslKey?: string;
}

export async function resolveRouterTarget(options: RouterAddressOptions): Promise<ManagementTarget> {
  checkTlsOptions(options);
  const wantsTls = options.sslCa !== undefined || options.sslCert !== undefined;
  let host = options.host ?? DEFAULT_HOST;
  let port = options.port ?? DEFAULT_PORT;
  if (options.config !== undefined) {
    const listener = await readNormalListener(options.config);
    // Plain AMQP to a TLS listener fails with a reset that explains nothing.
    if (listener.sslProfile !== undefined && !wantsTls) {
      throw new UsageError(
        `listener "${listener.name}" in ${options.config} uses TLS (sslProfile "${listener.sslProfile}"): give --ssl-ca, and --ssl-cert with --ssl-key if it authenticates clients`,
      );
    }
    ({ host, port } = listener);
  }
  if (!wantsTls) return { host, port };
  const [ca, cert, key] = await Promise.all([
    readPem('--ssl-ca', options.sslCa),
    readPem('--ssl-cert', options.sslCert),
    readPem('--ssl-key', options.sslKey),
  ]);
  return { host, port, tls: { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) } };
}

function checkTlsOptions(options: RouterAddressOptions): void {
  if (options.sslCert !== undefined && options.sslKey === undefined) throw new UsageError('option --ssl-cert needs --ssl-key');
  if (options.sslKey !== undefined && options.sslCert === undefined) throw new UsageError('option --ssl-key needs --ssl-cert');
}

async function readPem(flag: string, file: string | undefined): Promise<Buffer | undefined> {
  if (file === undefined) return undefined;
  try {
    return await readFile(file);
  } catch (error) {
    throw new RuntimeError(`cannot read ${flag} file ${file}: ${fileProblem(error)}`);
  }
}
