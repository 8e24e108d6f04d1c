// Questions on stdin for the commands that ask before they change something. Lines are read
// through one iterator, so answers piped in ahead of the questions are not lost.
import { createInterface, type Interface } from 'node:readline';
import { ShardherdError } from '../errors.ts';

export class Prompter {
  private readonly rl: Interface;
  private readonly lines: AsyncIterator<string>;

  constructor(
    input: NodeJS.ReadableStream = process.stdin,
    private readonly output: NodeJS.WritableStream = process.stderr,
  ) {
    this.rl = createInterface({ input, terminal: false });
    this.lines = this.rl[Symbol.asyncIterator]();
  }

  /** Writes `question` and resolves with the next line, trimmed; throws when the input ended. */
  async ask(question: string): Promise<string> {
    this.output.write(`${question} `);
    const next = await this.lines.next();
    if (next.done) {
      this.output.write('\n');
      throw new ShardherdError('aborted: the input ended before an answer was typed');
    }
    return next.value.trim();
  }

  /** A y/N question: true only for y or yes. */
  async confirm(question: string): Promise<boolean> {
    return /^y(es)?$/i.test(await this.ask(`${question} [y/N]`));
  }

  close(): void {
    this.rl.close();
  }
}

/** Runs `fn` with a prompter on stdin, closed afterwards. */
export async function withPrompter<T>(fn: (p: Prompter) => Promise<T>): Promise<T> {
  const prompter = new Prompter();
  try {
    return await fn(prompter);
  } finally {
    prompter.close();
  }
}

/**
 * Without `force`: asks `question` y/N on a terminal and throws `cancelled` unless the answer is
 * yes. A non-interactive stdin is refused (nobody could have confirmed), saying to pass --force.
 */
export async function confirmOrForce(question: string, force: boolean, cancelled: string): Promise<void> {
  if (force) return;
  if (!process.stdin.isTTY)
    throw new ShardherdError(`not asking on a non-interactive input (stdin is not a terminal): pass --force to go on`);
  if (!(await withPrompter((p) => p.confirm(question)))) throw new ShardherdError(cancelled);
}
