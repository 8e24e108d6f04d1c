// Parsing of Patroni's `host:port` strings (`restapi.listen`, `postgresql.connect_address`, etcd hosts)
// into structured addresses, as data: callers collect problems instead of catching exceptions
// (`recorded` puts a parse problem into the Findings of a section reader).
import type { ConfigProblem } from '../errors.ts';
import type { Findings } from './findings.ts';
import type { HostPort } from './types.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: ConfigProblem };

/** Hosts that accept connections on every interface: fine to listen on, useless to connect to. */
const WILDCARD_HOSTS = new Set(['*', '0.0.0.0', '::', '']);
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

export function isWildcardHost(host: string): boolean {
  return WILDCARD_HOSTS.has(host);
}

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

/** `host:port`, with IPv6 hosts in brackets so the result parses back. */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function quote(value: unknown): string {
  return typeof value === 'string'
    ? JSON.stringify(value)
    : value === null
      ? 'null'
      : Array.isArray(value)
        ? 'a list'
        : typeof value === 'object'
          ? 'a map'
          : String(value);
}

/** Splits `hosts:port` at the last colon (Patroni's rule), accepting `[v6]:port`. */
function splitHostPort(value: unknown, path: string): Parsed<{ hostPart: string; port: number }> {
  const fail = (message: string): Parsed<never> => ({ ok: false, problem: { path, message } });
  if (typeof value !== 'string') return fail(`expected host:port, got ${quote(value)}`);
  const text = value.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    return fail(`expected host:port without a URL scheme, got ${quote(value)}`);
  const colon = text.lastIndexOf(':');
  if (colon < 0) return fail(`expected host:port, got ${quote(value)}`);
  const portText = text.slice(colon + 1);
  let hostPart = text.slice(0, colon);
  if (!/^\d+$/.test(portText)) return fail(`expected host:port, got ${quote(value)}`);
  const port = Number(portText);
  if (port < 1 || port > 65535) return fail(`port must be between 1 and 65535, got ${quote(value)}`);
  if (hostPart.startsWith('[') && hostPart.endsWith(']')) hostPart = hostPart.slice(1, -1);
  if (hostPart.includes('/')) return fail(`expected host:port, got ${quote(value)}`);
  return { ok: true, value: { hostPart, port } };
}

/** One `host:port`; the host must not be empty. */
export function parseHostPort(value: unknown, path: string): Parsed<HostPort> {
  const split = splitHostPort(value, path);
  if (!split.ok) return split;
  const { hostPart, port } = split.value;
  if (hostPart === '' || /[,\s]/.test(hostPart)) {
    return { ok: false, problem: { path, message: `expected host:port, got ${quote(value)}` } };
  }
  return { ok: true, value: { host: hostPart, port } };
}

/** `postgresql.listen`: one or more comma-separated hosts (or `*` alone) sharing one port. */
export function parseListen(value: unknown, path: string): Parsed<{ hosts: string[]; port: number }> {
  const split = splitHostPort(value, path);
  if (!split.ok) return split;
  const hosts = split.value.hostPart.split(',').map((h) => h.trim().replace(/^\[(.*)\]$/, '$1'));
  if (hosts.some((h) => h === '' || /\s/.test(h))) {
    return { ok: false, problem: { path, message: `expected host[,host...]:port, got ${quote(value)}` } };
  }
  if (hosts.includes('*') && hosts.length > 1) {
    return { ok: false, problem: { path, message: `"*" must be the only host, got ${quote(value)}` } };
  }
  return { ok: true, value: { hosts, port: split.value.port } };
}

/** The parsed value, or undefined with the parse problem recorded in `f`. */
export function recorded<T>(parsed: Parsed<T>, f: Findings): T | undefined {
  return parsed.ok ? parsed.value : f.problem(parsed.problem.path, parsed.problem.message);
}

/** A connect address is what peers dial: a wildcard host can never be right. */
export function readConnectAddress(value: unknown, p: string, f: Findings): HostPort | undefined {
  const address = recorded(parseHostPort(value, p), f);
  if (address && isWildcardHost(address.host)) {
    return f.problem(p, `must be an address other members can reach, not a wildcard, got ${JSON.stringify(value)}`);
  }
  return address;
}
