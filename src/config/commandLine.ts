// A command line as the YAML gives it ("/usr/local/bin/vip.sh --dev eth0") split into the
// program and its arguments the way a POSIX shell's quoting would, and no further: no variables,
// globs, pipes or redirections, as Patroni splits its callback commands (Python's shlex.split).

/** The words of `text`; throws naming what is wrong when a quote or an escape is left open. */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      // Inside double quotes a backslash escapes only a double quote or a backslash.
      if (c === '"') quote = null;
      else if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\') {
      if (i + 1 === text.length) throw new Error('ends with a backslash that escapes nothing');
      word = (word ?? '') + text[++i];
    } else word = (word ?? '') + c;
  }
  if (quote !== null) throw new Error(`the quote ${quote} is not closed`);
  if (word !== null) words.push(word);
  return words;
}
