// WAL positions: PostgreSQL prints them as 'X/Y' (two 32-bit hex halves); the agent works in bytes.

/** Parses '16/B374D848' into a byte position. Exact up to 2^53 bytes (8 PiB of WAL). */
export function parseLsn(text: string): number {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new Error(`not a WAL position: '${text}'`);
  return parseInt(match[1]!, 16) * 0x1_0000_0000 + parseInt(match[2]!, 16);
}

/** Parses a possibly-null LSN column. */
export function parseLsnOrNull(text: string | null | undefined): number | null {
  return text == null ? null : parseLsn(text);
}

/** Formats a byte position as PostgreSQL's 'X/Y'. */
export function formatLsn(position: number): string {
  const high = Math.floor(position / 0x1_0000_0000);
  const low = position % 0x1_0000_0000;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}
