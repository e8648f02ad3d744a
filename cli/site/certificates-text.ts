// The text view of a site's certificates for `kskup status`: a table of when
// each ends, and the CA rotation's phase with the sites still on the old CA.
import type { SiteCertificatesReport } from '../../site-controller/site/certificate-expiry.js';
import { formatTable } from '../table.js';

export function certificatesText(report: SiteCertificatesReport): string {
  const rows = report.certificates.map((certificate) => [
    certificate.name,
    certificate.serial,
    certificate.notAfter,
    certificate.state === 'valid' ? `valid, ${certificate.daysLeft} days left` : certificate.state === 'expired' ? 'EXPIRED' : `EXPIRES SOON: ${Math.max(certificate.daysLeft, 0)} days left`,
  ]);
  const table = formatTable(['CERTIFICATE', 'SERIAL', 'NOT AFTER', 'STATE'], rows)
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
  const rotation = report.caRotation;
  const phase =
    rotation.phase === 'none'
      ? 'CA rotation: none\n'
      : `CA rotation: overlap since ${rotation.startedAt} (CA ${rotation.fromCaSerial} -> ${rotation.toCaSerial}); ` +
        (rotation.onOldCa.length === 0 ? 'no linked site is on the old CA: ready to finish (kskup rotate-certs --ca --finish)\n' : `still on the old CA: ${rotation.onOldCa.join(', ')}\n`);
  return `Certificates:\n${table}${phase}`;
}
