// A unified diff of two texts, laid out as Python's difflib.unified_diff (which patronictl's
// edit-config prints): `---`/`+++` labels, `@@ -a,b +c,d @@` hunks with three lines of context.

type Tag = 'equal' | 'delete' | 'insert' | 'replace';
/** [tag, from start, from end, to start, to end], as difflib's opcodes. */
type Opcode = [Tag, number, number, number, number];

/** Opcodes from a longest common subsequence of the lines. */
function opcodes(a: readonly string[], b: readonly string[]): Opcode[] {
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const codes: Opcode[] = [];
  const push = (tag: 'equal' | 'delete' | 'insert', i: number, j: number): void => {
    const last = codes.at(-1);
    const di = tag === 'insert' ? 0 : 1;
    const dj = tag === 'delete' ? 0 : 1;
    if (last && last[0] === tag) {
      last[2] += di;
      last[4] += dj;
    } else codes.push([tag, i, i + di, j, j + dj]);
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) push('equal', i++, j++);
    else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) push('insert', i, j++);
    else push('delete', i++, j);
  }
  // A delete next to an insert is one replacement, as difflib reports it.
  const merged: Opcode[] = [];
  for (const code of codes) {
    const last = merged.at(-1);
    if (last && last[0] !== 'equal' && code[0] !== 'equal' && last[0] !== code[0]) {
      merged[merged.length - 1] = ['replace', last[1], code[2], last[3], code[4]];
    } else merged.push([...code]);
  }
  return merged;
}

/** difflib's get_grouped_opcodes: hunks of changes with `n` lines of context around them. */
function groups(codes: Opcode[], n: number): Opcode[][] {
  if (codes.length === 0) return [];
  const first = codes[0]!;
  if (first[0] === 'equal')
    codes[0] = ['equal', Math.max(first[1], first[2] - n), first[2], Math.max(first[3], first[4] - n), first[4]];
  const last = codes.at(-1)!;
  if (last[0] === 'equal')
    codes[codes.length - 1] = [
      'equal',
      last[1],
      Math.min(last[2], last[1] + n),
      last[3],
      Math.min(last[4], last[3] + n),
    ];
  const out: Opcode[][] = [];
  let group: Opcode[] = [];
  for (const code of codes) {
    const [tag, , i2, , j2] = code;
    let [, i1, , j1] = code;
    if (tag === 'equal' && i2 - i1 > 2 * n) {
      group.push([tag, i1, Math.min(i2, i1 + n), j1, Math.min(j2, j1 + n)]);
      out.push(group);
      group = [];
      i1 = Math.max(i1, i2 - n);
      j1 = Math.max(j1, j2 - n);
    }
    group.push([tag, i1, i2, j1, j2]);
  }
  if (group.length > 0 && !(group.length === 1 && group[0]![0] === 'equal')) out.push(group);
  return out;
}

/** difflib's `_format_range_unified`. */
function range(start: number, stop: number): string {
  const length = stop - start;
  if (length === 1) return String(start + 1);
  return `${length === 0 ? start : start + 1},${length}`;
}

function lines(text: string): string[] {
  return text.replace(/\n+$/, '').split('\n');
}

/** The diff as lines without newlines; empty when the texts have the same lines. */
export function unifiedDiff(before: string, after: string, labels = { from: '', to: '' }, context = 3): string[] {
  const a = lines(before);
  const b = lines(after);
  const hunks = groups(opcodes(a, b), context);
  if (hunks.length === 0) return [];
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  for (const hunk of hunks) {
    const first = hunk[0]!;
    const last = hunk.at(-1)!;
    out.push(`@@ -${range(first[1], last[2])} +${range(first[3], last[4])} @@`);
    for (const [tag, i1, i2, j1, j2] of hunk) {
      if (tag === 'equal') {
        for (const line of a.slice(i1, i2)) out.push(` ${line}`);
        continue;
      }
      if (tag !== 'insert') for (const line of a.slice(i1, i2)) out.push(`-${line}`);
      if (tag !== 'delete') for (const line of b.slice(j1, j2)) out.push(`+${line}`);
    }
  }
  return out;
}
