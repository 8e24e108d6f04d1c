// The agent's log file under Patroni's `log.dir`: one file, rotated by size as Python's
// RotatingFileHandler does for Patroni (`<name>.1` is the newest old file, `<name>.<file_num>` the
// oldest kept). Lines are written synchronously, so nothing logged before a crash is lost.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface RotatingFileOptions {
  /** The current file's path; rotated files get `.1`, `.2`, ... appended. */
  path: string;
  /** A line that would take the file past this many bytes goes to a new file. */
  maxBytes: number;
  /** Rotated files kept; 0 starts the one file over instead. */
  keep: number;
}

/** A pino destination (anything with `write(line)`) that never throws into the logging code. */
export class RotatingFile {
  private fd: number | null = null;
  private size = 0;
  /** The last write error, reported once on stderr until writes work again. */
  private failure: string | null = null;

  constructor(private readonly opts: RotatingFileOptions) {
    mkdirSync(dirname(opts.path), { recursive: true });
    this.open('a');
  }

  write(line: string): boolean {
    try {
      const bytes = Buffer.byteLength(line);
      if (this.size > 0 && this.size + bytes > this.opts.maxBytes) this.rotate();
      if (this.fd === null) this.open('a');
      writeSync(this.fd!, line);
      this.size += bytes;
      this.failure = null;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (why !== this.failure) process.stderr.write(`cannot write the log file ${this.opts.path}: ${why}\n`);
      this.failure = why;
    }
    return true;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private open(flags: 'a' | 'w'): void {
    this.fd = openSync(this.opts.path, flags, 0o640);
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.close();
    const { path, keep } = this.opts;
    if (keep === 0) {
      this.open('w');
      return;
    }
    for (let i = keep - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    renameSync(path, `${path}.1`);
    this.open('a');
  }
}
