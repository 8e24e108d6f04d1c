// Parses a byte amount the way Patroni parses `?lag=` (PostgreSQL's integer-with-unit syntax,
// base unit B): `1048576`, `0x100000`, `16MB`, `1.5 GB`, `64kB`. Units are case-sensitive.

const UNIT_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
};

// A value given in a unit is first rounded to a whole number of the next smaller unit
// (1.0001MB -> 1025kB), as PostgreSQL does for GUCs.
const ROUND_TO: Readonly<Record<string, string>> = { TB: 'GB', GB: 'MB', MB: 'kB', kB: 'B' };

const HEX = /^[-+]?0x[0-9a-fA-F]+/;
const OCT = /^[-+]?0[0-7]*/;
const DEC = /^[-+]?(0|[1-9][0-9]*)/;
const FLOAT = /^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?/;

/** Round half to even, like C's rint() under the default rounding mode. */
function rint(value: number): number {
  const rounded = Math.round(value);
  if (Math.abs(rounded - value) === 0.5) return 2 * Math.round(value / 2);
  return rounded;
}

/** strtol(3) with base 0: the leading integer (hex, octal or decimal) and what follows it. */
function leadingInteger(text: string): { value: number | null; rest: string } {
  for (const [pattern, radix] of [
    [HEX, 16],
    [OCT, 8],
    [DEC, 10],
  ] as const) {
    const match = pattern.exec(text);
    if (match) {
      const literal = match[0];
      const negative = literal.startsWith('-');
      const digits = literal.replace(/^[-+]/, '').replace(/^0x/, '');
      const magnitude = parseInt(digits, radix);
      return { value: negative ? -magnitude : magnitude, rest: text.slice(literal.length) };
    }
  }
  return { value: null, rest: text };
}

function leadingFloat(text: string): { value: number | null; rest: string } {
  const match = FLOAT.exec(text);
  if (!match) return { value: null, rest: text };
  return { value: Number(match[0]), rest: text.slice(match[0].length) };
}

/**
 * Bytes denoted by `text`, or null when it is not a byte amount (no number, or a unit that
 * is not one of B, kB, MB, GB, TB).
 */
export function parseByteSize(text: string): number | null {
  const trimmed = text.trim();
  let { value, rest } = leadingInteger(trimmed);
  if ((value === null && rest.startsWith('.')) || (rest !== '' && '.eE'.includes(rest[0]!))) {
    ({ value, rest } = leadingFloat(trimmed));
  }
  if (value === null) return null;

  const unit = rest.trim();
  if (unit === '') return rint(value);
  const factor = UNIT_BYTES[unit];
  if (factor === undefined) return null;
  let bytes = value * factor;
  const smaller = ROUND_TO[unit];
  if (smaller !== undefined) {
    const step = UNIT_BYTES[smaller]!;
    bytes = rint(bytes / step) * step;
  }
  return rint(bytes);
}
