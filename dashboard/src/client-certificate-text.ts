import type { ConfigClientCertificateView } from '../../agent/src/server/dashboard-protocol.ts';

/**
 * The configuration page's words for a client certificate an output presents: its subject
 * and expiry (its key is never sent here), or why there are none: not read yet, or not read
 * at the output's start, for which the agent's log has the reason (it names the file, so it
 * is not sent here either). No DOM: rendered by render-config.ts.
 */
export function clientCertificateText(certificate: ConfigClientCertificateView | null): string {
  if (certificate === null) return '';
  switch (certificate.state) {
    case 'pending':
      return ', client certificate (not read yet)';
    case 'unreadable':
      return ', client certificate could not be read (see the agent\'s log); not connecting';
    case 'not-attempted':
      return ', client certificate not read: the start stopped before it (see the agent\'s log); not connecting';
    case 'read':
      return certificate.subject === null || certificate.validTo === null ? ', client certificate (not read yet)' : `, client certificate ${certificate.subject}, valid until ${certificate.validTo.slice(0, 10)}`;
  }
}
