// A watch on one key prefix that survives errors and etcd restarts: it reconnects from the
// last revision it delivered, and asks the caller to reload when that revision was compacted.
import { errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import { decodeKeyValue, keyRange, type EtcdCalls } from './calls.ts';
import type { EtcdStream } from './etcdHttp.ts';
import type { ParsedKey } from './keys.ts';
import type { DcsEvent } from './types.ts';

/**
 * `events`: changes in revision order, `revision` is the last one's mod revision.
 * `resync`: changes were lost (the resume revision was compacted); `events` is empty, the
 * watch continues after `revision`, and the caller must reload its view (at or after it).
 */
export type WatchSignal = 'events' | 'resync';

export type WatchListener = (events: DcsEvent[], revision: string, signal: WatchSignal) => void;

export interface DcsWatch {
  close(): void;
}

/** One answer of a watch stream, as etcd's gateway sends it (fields at their default left out). */
interface WatchResponse {
  header?: { revision?: string };
  created?: boolean;
  canceled?: boolean;
  cancel_reason?: string;
  compact_revision?: string;
  events?: Array<{ type?: 'PUT' | 'DELETE'; kv?: { key?: string; value?: string; mod_revision?: string } }>;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2000;

export class PrefixWatch implements DcsWatch {
  private readonly prefix: string;
  /** Revision to resume from on the next (re)connect; null means "from now". */
  private next: bigint | null;
  private resyncPending = false;
  private stream: EtcdStream | null = null;
  private timer: NodeJS.Timeout | null = null;
  private backoffMs = MIN_BACKOFF_MS;
  private closed = false;

  constructor(
    private readonly etcd: EtcdCalls,
    prefix: string,
    private readonly mapKey: (key: string) => ParsedKey | null,
    /** Changes after this revision are delivered. */
    fromRevision: string,
    private readonly listener: WatchListener,
    private readonly logger: Logger,
  ) {
    this.prefix = prefix;
    this.next = BigInt(fromRevision) + 1n;
    this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dropStream();
  }

  private connect(): void {
    this.timer = null;
    if (this.closed) return;
    const request: Record<string, unknown> = { ...keyRange(this.prefix, true), progress_notify: true };
    if (this.next !== null) request.start_revision = this.next.toString();
    // Until the stream exists, its answers and its end are told apart by this box.
    const box: { stream: EtcdStream | null } = { stream: null };
    this.etcd
      .watch<WatchResponse>(
        request,
        (res) => this.onResponse(box.stream, res),
        (err) => this.onBroken(box.stream, err),
      )
      .then(
        (stream) => {
          box.stream = stream;
          if (this.closed) return stream.close();
          this.stream = stream;
        },
        (err: unknown) => this.onBroken(null, err),
      );
  }

  private onResponse(stream: EtcdStream | null, res: WatchResponse): void {
    if (stream === null || stream !== this.stream) return;
    if (res.canceled) {
      if (res.compact_revision && res.compact_revision !== '0') {
        this.logger.warn(
          { compactRevision: res.compact_revision, from: this.next?.toString() },
          'watch revision compacted; resyncing',
        );
        this.next = null;
        this.resyncPending = true;
        this.reconnect(0);
      } else {
        this.onBroken(stream, new Error(`watch canceled: ${res.cancel_reason || 'no reason given'}`));
      }
      return;
    }
    const revision = res.header?.revision ?? '0';
    if (res.created) {
      this.backoffMs = MIN_BACKOFF_MS;
      const startedAfter = BigInt(revision);
      if (this.next === null) this.next = startedAfter + 1n;
      if (this.resyncPending) {
        this.resyncPending = false;
        // Only now: the new watch covers everything after this revision, so a reload the
        // caller starts from here misses nothing.
        this.deliver([], revision, 'resync');
      }
      return;
    }
    const events = res.events ?? [];
    if (events.length === 0) {
      // Progress notification: everything up to the header revision has been sent.
      const progressed = BigInt(revision) + 1n;
      if (this.next === null || progressed > this.next) this.next = progressed;
      return;
    }
    const mapped: DcsEvent[] = [];
    for (const ev of events) {
      const kv = decodeKeyValue(ev.kv ?? {});
      const parsed = this.mapKey(kv.key);
      if (!parsed) continue;
      const isDelete = ev.type === 'DELETE';
      mapped.push({
        type: isDelete ? 'delete' : 'put',
        group: parsed.group,
        name: parsed.name,
        value: isDelete ? null : kv.value,
        modRevision: kv.modRevision,
      });
    }
    const last = events[events.length - 1]!.kv?.mod_revision ?? revision;
    this.next = BigInt(last) + 1n;
    if (mapped.length > 0) this.deliver(mapped, last, 'events');
  }

  private deliver(events: DcsEvent[], revision: string, signal: WatchSignal): void {
    try {
      this.listener(events, revision, signal);
    } catch (err) {
      // A failing listener must not break the stream and lose later events.
      this.logger.error({ err }, 'watch listener threw');
    }
  }

  private onBroken(stream: EtcdStream | null, err: unknown): void {
    if (stream !== null && stream !== this.stream) return;
    if (this.closed) return;
    this.logger.warn({ err: errorText(err), retryInMs: this.backoffMs }, 'watch interrupted; reconnecting');
    this.reconnect(this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }

  private reconnect(delayMs: number): void {
    this.dropStream();
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => this.connect(), delayMs);
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = null;
    stream?.close();
  }
}
