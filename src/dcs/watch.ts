// A watch on one key prefix that survives errors and etcd restarts: it reconnects from the
// last revision it delivered, and asks the caller to reload when that revision was compacted.
import type { Etcd3, IDuplexStream, IWatchCreateRequest, IWatchRequest, IWatchResponse } from 'etcd3';
import type { Logger } from '../log.ts';
import type { ParsedKey } from './keys.ts';
import { prefixRangeEnd } from './keys.ts';
import type { DcsEvent } from './types.ts';
import { errorText } from '../errors.ts';

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

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2000;

export class PrefixWatch implements DcsWatch {
  private readonly prefix: Buffer;
  /** Revision to resume from on the next (re)connect; null means "from now". */
  private next: bigint | null;
  private resyncPending = false;
  private stream: WatchStream | null = null;
  private timer: NodeJS.Timeout | null = null;
  private backoffMs = MIN_BACKOFF_MS;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly mapKey: (key: string) => ParsedKey | null,
    /** Changes after this revision are delivered. */
    fromRevision: string,
    private readonly listener: WatchListener,
    private readonly logger: Logger,
  ) {
    this.prefix = Buffer.from(prefix);
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
    this.client.watchClient.watch().then(
      (stream) => {
        if (this.closed) {
          stream.on('error', () => undefined);
          stream.end();
          stream.cancel();
          return;
        }
        this.stream = stream;
        stream.on('data', (res) => this.onResponse(stream, res));
        stream.on('error', (err) => this.onBroken(stream, err));
        stream.on('end', () => this.onBroken(stream, new Error('watch stream ended')));
        const request: IWatchCreateRequest = {
          key: this.prefix,
          range_end: prefixRangeEnd(this.prefix),
          progress_notify: true,
        };
        if (this.next !== null) request.start_revision = this.next.toString();
        stream.write({ create_request: request });
      },
      (err: unknown) => this.onBroken(null, err),
    );
  }

  private onResponse(stream: WatchStream, res: IWatchResponse): void {
    if (stream !== this.stream) return;
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
    if (res.created) {
      this.backoffMs = MIN_BACKOFF_MS;
      const startedAfter = BigInt(res.header.revision);
      if (this.next === null) this.next = startedAfter + 1n;
      if (this.resyncPending) {
        this.resyncPending = false;
        // Only now: the new watch covers everything after this revision, so a reload the
        // caller starts from here misses nothing.
        this.deliver([], res.header.revision, 'resync');
      }
      return;
    }
    const events = res.events ?? [];
    if (events.length === 0) {
      // Progress notification: everything up to the header revision has been sent.
      const progressed = BigInt(res.header.revision) + 1n;
      if (this.next === null || progressed > this.next) this.next = progressed;
      return;
    }
    const mapped: DcsEvent[] = [];
    for (const ev of events) {
      const parsed = this.mapKey(ev.kv.key.toString());
      if (!parsed) continue;
      const isDelete = ev.type === 'Delete';
      mapped.push({
        type: isDelete ? 'delete' : 'put',
        group: parsed.group,
        name: parsed.name,
        value: isDelete ? null : ev.kv.value.toString(),
        modRevision: ev.kv.mod_revision,
      });
    }
    const last = events[events.length - 1].kv.mod_revision;
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

  private onBroken(stream: WatchStream | null, err: unknown): void {
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
    if (!stream) return;
    // Cancelling makes grpc emit a CANCELLED error; keep a listener so it is not thrown, and
    // half-close first so etcd3 does not take that error for a broken host (see
    // AgentLease.keepaliveOnce in lease.ts).
    stream.on('error', () => undefined);
    stream.end();
    stream.cancel();
  }
}
