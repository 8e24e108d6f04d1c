// JSON spelled as Python's json.dumps() writes it (`, ` and `: ` separators, non-ASCII escaped),
// so `shardherd list -f json` prints the same bytes as `patronictl list -f json`.

export type JsonData = string | number | boolean | null | readonly JsonData[] | { readonly [key: string]: JsonData };

function quote(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function pythonJson(value: JsonData): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number')
    return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map((item: JsonData) => pythonJson(item)).join(', ')}]`;
  const entries = Object.entries(value as { readonly [key: string]: JsonData });
  return `{${entries.map(([k, v]) => `${quote(k)}: ${pythonJson(v)}`).join(', ')}}`;
}
