// The REST API's TLS files: read once, a file that cannot be read named by its setting.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTlsMaterial } from '../../src/memberTls.ts';

test('the files are read as given; one that cannot be read is refused naming its setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'member-tls-'));
  for (const name of ['cert.pem', 'key.pem', 'ca.pem']) writeFileSync(join(dir, name), `-- ${name} --`);
  const material = readTlsMaterial({
    certfile: join(dir, 'cert.pem'),
    keyfile: join(dir, 'key.pem'),
    keyfile_password: 'pass',
    cafile: join(dir, 'ca.pem'),
    ciphers: 'HIGH',
    verify_client: 'none',
  });
  assert.deepEqual(
    [
      material.cert.toString(),
      material.key?.toString(),
      material.ca?.toString(),
      material.passphrase,
      material.ciphers,
    ],
    ['-- cert.pem --', '-- key.pem --', '-- ca.pem --', 'pass', 'HIGH'],
  );
  assert.throws(
    () => readTlsMaterial({ certfile: join(dir, 'cert.pem'), cafile: join(dir, 'nope.pem'), verify_client: 'none' }),
    /^ShardherdError: restapi\.cafile: cannot read .*nope\.pem: .*ENOENT/,
  );
});
