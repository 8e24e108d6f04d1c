// Throwaway TLS material for tests: a CA, and certificates it signed for 127.0.0.1.
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './tempDir.ts';

const run = promisify(execFile);

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate (CN root), as PEM files the
 * unprivileged user can read; both certificates serve as server and as client.
 */
export async function certificates(): Promise<
  Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>
> {
  const dir = await tempDir('shardherd-tls');
  const p = (name: string): string => join(dir, name);
  const ssl = (...args: string[]) => run('openssl', args);
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=test-ca',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
  );
  await writeFile(p('san.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  for (const who of ['server', 'client']) {
    await ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${who === 'client' ? 'root' : who}`,
      '-keyout',
      p(`${who}.key`),
      '-out',
      p(`${who}.csr`),
    );
    await ssl(
      'x509',
      '-req',
      '-in',
      p(`${who}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      p('san.ext'),
      '-out',
      p(`${who}.pem`),
    );
    await chmod(p(`${who}.key`), 0o644);
  }
  return {
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
  };
}
