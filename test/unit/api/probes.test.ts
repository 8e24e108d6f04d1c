// Liveness and readiness probe codes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livenessStatusCode, readinessStatusCode } from '../../../src/api/probes.ts';

const now = 1_700_000_000_000;

test('a loop that cycled within ttl is alive', () => {
  assert.equal(livenessStatusCode({ paused: false, isLeader: true, lastCycleAt: now - 29_000, ttl: 30, now }), 200);
});

test('a leader whose loop stalled longer than ttl is not alive', () => {
  assert.equal(livenessStatusCode({ paused: false, isLeader: true, lastCycleAt: now - 31_000, ttl: 30, now }), 503);
});

test('a replica is given twice the ttl before it counts as stalled', () => {
  assert.equal(livenessStatusCode({ paused: false, isLeader: false, lastCycleAt: now - 59_000, ttl: 30, now }), 200);
  assert.equal(livenessStatusCode({ paused: false, isLeader: false, lastCycleAt: now - 61_000, ttl: 30, now }), 503);
});

test('in pause a stalled loop is still alive', () => {
  assert.equal(livenessStatusCode({ paused: true, isLeader: true, lastCycleAt: now - 3_600_000, ttl: 30, now }), 200);
});

test('the leader is ready even when PostgreSQL is not running', () => {
  assert.equal(readinessStatusCode({ isLeader: true, state: 'stopped', viewKnown: true }), 200);
});

test('a running replica that knows the group is ready', () => {
  assert.equal(readinessStatusCode({ isLeader: false, state: 'running', viewKnown: true }), 200);
});

test('a running replica that never reached etcd is not ready', () => {
  assert.equal(readinessStatusCode({ isLeader: false, state: 'running', viewKnown: false }), 503);
});

test('a replica that is still starting is not ready', () => {
  assert.equal(readinessStatusCode({ isLeader: false, state: 'starting', viewKnown: true }), 503);
});
