// One operation at a time: the promise-chain lock used wherever steps of a shared resource (the
// etcd lease, the Citus metadata, the pooler process) must never interleave.

/** Runs the functions given to `run` one after another, in call order, whatever each one's outcome. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every earlier call has settled; its result or error is the caller's alone. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Settles once every call made so far has settled (never rejects). */
  async idle(): Promise<void> {
    await this.tail;
  }
}
