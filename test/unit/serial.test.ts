import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Serial } from '../../src/serial.ts';

test('calls run one after another in call order, a failure does not stop the next', async () => {
  const serial = new Serial();
  const events: string[] = [];
  const step = (name: string, ms: number, fail = false) =>
    serial.run(async () => {
      events.push(`${name} start`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      events.push(`${name} end`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
  const a = step('a', 20);
  const b = step('b', 1, true);
  const c = step('c', 1);
  assert.equal(await a, 'a');
  await assert.rejects(b, /b failed/);
  assert.equal(await c, 'c');
  assert.deepEqual(events, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
});

test('idle settles after every earlier call, even a failed one, and never rejects', async () => {
  const serial = new Serial();
  let done = false;
  void serial
    .run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      done = true;
      throw new Error('boom');
    })
    .catch(() => undefined);
  await serial.idle();
  assert.equal(done, true);
});
