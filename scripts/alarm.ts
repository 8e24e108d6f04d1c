// An interruptible sleep for the stand-in's loops (scripts/standInSync.ts, scripts/standInTasks.ts).

/** An interruptible sleep: wake() ends the current wait early. */
export class Alarm {
  #wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#wake = done;
    });
  }

  wake(): void {
    this.#wake?.();
  }
}
