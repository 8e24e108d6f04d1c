// The commands' configuration: TLS files the user cannot read (a member's key, say) only warn,
// since most commands never ask a member anything.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfigLine } from '../../../src/cli/readCluster.ts';
import { writeFiles } from '../config/helpers.ts';

test('a restapi.certfile that cannot be read is a warning on stderr, not an error', async () => {
  const dir = writeFiles({
    'ctl.yml': 'scope: demo\netcd3:\n  hosts: 127.0.0.1:2379\nrestapi:\n  certfile: /nonexistent/rest.pem\n',
  });
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
  try {
    const config = await loadConfigLine(path.join(dir, 'ctl.yml'), {});
    assert.deepEqual(config.restapiTls, { certfile: '/nonexistent/rest.pem', verify_client: 'none' });
  } finally {
    process.stderr.write = write;
  }
  assert.equal(written.length, 1);
  assert.match(written[0]!, /^warning: restapi\.certfile: cannot read \/nonexistent\/rest\.pem: .*ENOENT/);
  assert.match(written[0]!, /; members' https APIs are checked against the system's CAs\n$/);
});
