/**
 * TCP addresses as the mesh writes them: "host:port", "[v6]:port", optionally behind
 * "ws://" or "wss://" (and a trailing "/"), which is how a kernel's address is shown in a ws URL.
 */
import { isIPv6 } from 'node:net';
import { IkcError } from '@ikc/wire';

export interface HostPort {
  /** A name or an IP, without brackets. */
  host: string;
  /** 0-65535; 0 asks listen() for any free port. */
  port: number;
}

export function parseHostPort(address: string): HostPort {
  let rest = address.replace(/^wss?:\/\//, '');
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  const colon = rest.lastIndexOf(':');
  let host = colon > 0 ? rest.slice(0, colon) : '';
  const portText = colon > 0 ? rest.slice(colon + 1) : '';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) host = ''; // an IPv6 address must be bracketed
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : -1;
  if (host === '' || /[\s/@[\]]/.test(host) || port < 0 || port > 65535) {
    throw new IkcError('IKC_ERR_INVALID_ARG', `"${address}" is not a TCP address of the form host:port`, {
      details: { address },
    });
  }
  return { host, port };
}

export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
