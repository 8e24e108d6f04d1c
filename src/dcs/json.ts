// JSON exactly as Patroni writes it to etcd: compact separators and ASCII-only output
// (Python's json.dumps(..., separators=(',', ':')) escapes every non-ASCII character).

/** Serializes `value` byte-for-byte like Patroni's compact `json.dumps`. */
export function compactJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('value is not representable as JSON');
  // Python escapes DEL and everything above ASCII as \uXXXX (lowercase hex, surrogate pairs
  // for astral characters); JSON.stringify already escapes control characters the same way.
  return text.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** Parses JSON, returning undefined instead of throwing on garbage. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
