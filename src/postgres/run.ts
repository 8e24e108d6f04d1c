// Runs a PostgreSQL program to completion and collects its output (for initdb, pg_basebackup,
// pg_rewind, pg_controldata, pg_ctl promote, single-user mode).
import { spawn } from 'node:child_process';

export interface ProgramResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Added to the agent's environment. */
  env?: Record<string, string>;
  /** Killed with SIGKILL after this long; the result then has timedOut: true. */
  timeoutMs: number;
  /** Written to stdin, which is then closed; stdin is empty without it. */
  input?: string;
  /** Each line of stderr as it arrives (a carriage return ends a line too). */
  onStderrLine?: (line: string) => void;
}

/** Keeps only the tail of long outputs so a chatty program cannot exhaust memory. */
const MAX_OUTPUT = 64 * 1024;

export function runProgram(file: string, args: string[], options: RunOptions): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout = (stdout + chunk).slice(-MAX_OUTPUT)));
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_OUTPUT);
      if (options.onStderrLine === undefined) return;
      const lines = (partial + chunk).split(/\r\n|\r|\n/);
      partial = lines.pop()!.slice(-MAX_OUTPUT);
      for (const line of lines) if (line !== '') options.onStderrLine(line);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => {
      // the program may exit before reading its input; that is reported through its exit code
    });
    child.stdin.end(options.input ?? '');
  });
}
