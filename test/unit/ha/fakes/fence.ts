// The HA loop's Fence in memory: records every call, knows whether it is armed, and, given a
// FakeClock and what to do when it fires, stops the postmaster once an armed deadline passes, as
// the software watchdog does for a stalled agent.
import type { Fence } from '../../../../src/ha/ports.ts';
import type { FakeClock, FakeTimer } from './clock.ts';

export type FenceEvent =
  | { kind: 'start' | 'disarm' | 'stop' }
  | { kind: 'arm'; deadline: number; pid: number }
  | { kind: 'fired'; pid: number };

export interface FakeFenceOptions {
  clock: FakeClock;
  /** Called with the armed pid when the deadline passes while armed (the watchdog's SIGQUIT). */
  fire: (pid: number) => void;
}

export class FakeFence implements Fence {
  readonly events: FenceEvent[] = [];
  private armedWith: { deadline: number; pid: number; dataDir: string } | null = null;
  private timer: FakeTimer | null = null;

  constructor(private readonly options?: FakeFenceOptions) {}

  get armed(): { deadline: number; pid: number; dataDir: string } | null {
    return this.armedWith;
  }

  /** How often the deadline passed while armed. */
  get fired(): number {
    return this.events.filter((e) => e.kind === 'fired').length;
  }

  start(): void {
    this.events.push({ kind: 'start' });
  }

  async arm(deadline: number, postmasterPid: number, dataDir: string): Promise<void> {
    this.events.push({ kind: 'arm', deadline, pid: postmasterPid });
    this.armedWith = { deadline, pid: postmasterPid, dataDir };
    this.timer?.cancel();
    const options = this.options;
    if (options === undefined) return;
    this.timer = options.clock.setTimer(deadline + 1, () => {
      this.timer = null;
      this.armedWith = null;
      this.events.push({ kind: 'fired', pid: postmasterPid });
      options.fire(postmasterPid);
    });
  }

  async disarm(): Promise<void> {
    this.events.push({ kind: 'disarm' });
    this.armedWith = null;
    this.timer?.cancel();
    this.timer = null;
  }

  async stop(): Promise<void> {
    await this.disarm();
    this.events.push({ kind: 'stop' });
  }
}
