// Validation of POST /restart and POST /reinitialize bodies and of scheduled times: each refusal
// has its own code and one-line reason.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseReinitializeRequest, parseRestartRequest, parseSchedule } from '../../../src/api/restartRequest.ts';

const NOW = Date.parse('2030-01-01T12:00:00Z');

function rejected(result: { ok: boolean }, code: number, pattern: RegExp): void {
  assert.equal(result.ok, false, `expected a rejection, got ${JSON.stringify(result)}`);
  const r = result as { ok: false; code: number; message: string };
  assert.equal(r.code, code, r.message);
  assert.match(r.message, pattern);
  assert.ok(!r.message.includes('\n'), 'one line');
}

describe('parseSchedule', () => {
  test('ISO 8601 with an offset is read as that instant', () => {
    assert.deepEqual(parseSchedule('2030-01-01T14:30:00+02:00', 'restart', NOW), {
      ok: true,
      at: Date.parse('2030-01-01T12:30:00Z'),
      iso: '2030-01-01T14:30:00+02:00',
    });
  });

  test('a space instead of T, Z, and offsets without colon or minutes are accepted', () => {
    assert.equal(
      (parseSchedule('2030-01-01 13:00Z', 'restart', NOW) as { at: number }).at,
      Date.parse('2030-01-01T13:00:00Z'),
    );
    assert.equal(
      (parseSchedule('2030-01-01T13:00:00+0100', 'restart', NOW) as { at: number }).at,
      Date.parse('2030-01-01T12:00:00Z'),
    );
    assert.equal(
      (parseSchedule('2030-01-01T15:00:00+03', 'restart', NOW) as { at: number }).at,
      Date.parse('2030-01-01T12:00:00Z'),
    );
  });

  test('a time without timezone is refused with 400', () => {
    rejected(parseSchedule('2030-01-01T13:00:00', 'restart', NOW), 400, /needs a timezone/);
  });

  test('a time in the past is refused with 422', () => {
    rejected(parseSchedule('2030-01-01T11:59:59Z', 'restart', NOW), 422, /in the past/);
  });

  test('text that is no time is refused with 422', () => {
    rejected(parseSchedule('tomorrow', 'restart', NOW), 422, /cannot read "tomorrow" as a time/);
    rejected(parseSchedule('2030-02-30T10:00:00Z', 'restart', NOW), 422, /no such date/);
  });

  test('a schedule that is not a string is refused with 400', () => {
    rejected(parseSchedule(12, 'restart', NOW), 400, /must be a string/);
  });
});

describe('parseRestartRequest', () => {
  test('no body restarts now without conditions', () => {
    assert.deepEqual(parseRestartRequest(undefined, NOW, false), {
      ok: true,
      value: { kind: 'now', conditions: { role: null, onlyIfPending: false } },
    });
    assert.deepEqual(parseRestartRequest({}, NOW, false), {
      ok: true,
      value: { kind: 'now', conditions: { role: null, onlyIfPending: false } },
    });
  });

  test('role master means primary, any means no condition', () => {
    assert.deepEqual(parseRestartRequest({ role: 'master' }, NOW, false), {
      ok: true,
      value: { kind: 'now', conditions: { role: 'primary', onlyIfPending: false } },
    });
    assert.deepEqual(parseRestartRequest({ role: 'any' }, NOW, false), {
      ok: true,
      value: { kind: 'now', conditions: { role: null, onlyIfPending: false } },
    });
    assert.deepEqual(parseRestartRequest({ role: 'replica', restart_pending: true }, NOW, false), {
      ok: true,
      value: { kind: 'now', conditions: { role: 'replica', onlyIfPending: true } },
    });
  });

  test('an unknown role is refused with 400', () => {
    rejected(parseRestartRequest({ role: 'leader' }, NOW, false), 400, /role must be primary/);
  });

  test('restart_pending that is not a boolean is refused with 400', () => {
    rejected(parseRestartRequest({ restart_pending: 'yes' }, NOW, false), 400, /restart_pending must be true or false/);
  });

  test('an unknown field is refused with 400 naming it', () => {
    rejected(
      parseRestartRequest({ postgres_version: '15.1' }, NOW, false),
      400,
      /unknown restart condition: postgres_version/,
    );
  });

  test('a body that is not an object is refused with 400', () => {
    rejected(parseRestartRequest([1], NOW, false), 400, /JSON object/);
    rejected(parseRestartRequest('now', NOW, false), 400, /JSON object/);
  });

  test('a schedule makes a scheduled restart with its conditions', () => {
    assert.deepEqual(parseRestartRequest({ schedule: '2030-01-01T13:00:00+00:00', role: 'primary' }, NOW, false), {
      ok: true,
      value: {
        kind: 'scheduled',
        conditions: { role: 'primary', onlyIfPending: false },
        at: Date.parse('2030-01-01T13:00:00Z'),
        schedule: '2030-01-01T13:00:00+00:00',
      },
    });
  });

  test('a schedule in the past, or without timezone, is refused with the schedule code', () => {
    rejected(parseRestartRequest({ schedule: '2029-12-31T23:00:00Z' }, NOW, false), 422, /in the past/);
    rejected(parseRestartRequest({ schedule: '2030-01-01T13:00:00' }, NOW, false), 400, /timezone/);
  });

  test('scheduling while paused is refused with 409', () => {
    rejected(parseRestartRequest({ schedule: '2030-01-01T13:00:00Z' }, NOW, true), 409, /paused/);
  });

  test('an immediate restart while paused is accepted', () => {
    assert.equal(parseRestartRequest({}, NOW, true).ok, true);
  });
});

describe('parseReinitializeRequest', () => {
  test('force defaults to false', () => {
    assert.deepEqual(parseReinitializeRequest(undefined), { ok: true, force: false });
    assert.deepEqual(parseReinitializeRequest({ force: true }), { ok: true, force: true });
  });

  test('force that is not a boolean, or another field, is refused with 400', () => {
    rejected(parseReinitializeRequest({ force: 'yes' }), 400, /force must be true or false/);
    rejected(parseReinitializeRequest({ wait: true }), 400, /unknown reinitialize option: wait/);
  });
});
