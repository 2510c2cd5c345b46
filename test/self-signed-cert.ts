/**
 * A throwaway self-signed certificate for tests of the https/wss server, made with the openssl
 * command line (present wherever Debian's ca-certificates or Node's build tools are): Node has no
 * API that issues X.509 certificates, and a fixed test certificate would expire.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
  /** Paths of the two PEM files, for the command line; removed by `remove`. */
  readonly certFile: string;
  readonly keyFile: string;
  remove(): void;
}

/** A P-256 certificate valid for a day for `localhost` and each IP address given. */
export function selfSignedCertificate(ipAddresses: readonly string[] = ['127.0.0.1']): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'engram-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const altNames = ['DNS:localhost', ...ipAddresses.map((address) => `IP:${address}`)].join(',');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', `subjectAltName=${altNames}`, '-keyout', keyFile, '-out', certFile],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    certFile,
    keyFile,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
