/**
 * Matching a peer's expected identity against a leaf certificate's
 * subjectAltName, the way a TLS client would (RFC 6125 §6.4): DNS names compared
 * case-insensitively with a whole left-most `*` label standing for exactly one
 * label, IP addresses compared as bytes, mailboxes with the host part folded.
 * The subject common name is never consulted.
 */
import type { GeneralName } from '@coconutpay/core/pki/path-names';

/** An identity the peer is expected to present. */
export interface PeerName {
  kind: 'DNS' | 'IP' | 'RFC822';
  value: string;
}

/** Parses a dotted IPv4 or an RFC 4291 IPv6 text address into bytes, or undefined. */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number);
    if (parts.some((part) => part > 255)) return undefined;
    return Uint8Array.from(parts);
  }
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.split('::').length > 2) return undefined;
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  const bytes = new Uint8Array(16);
  for (const [index, group] of groups.entries()) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  }
  return bytes;
}

function dnsMatches(presented: string, expected: string): boolean {
  const pattern = presented.toLowerCase();
  const name = expected.toLowerCase().replace(/\.$/, '');
  if (!pattern.startsWith('*.')) return pattern === name;
  const dot = name.indexOf('.');
  if (dot <= 0) return false;
  return name.slice(dot + 1) === pattern.slice(2);
}

function emailMatches(presented: string, expected: string): boolean {
  const at = presented.lastIndexOf('@');
  const expectedAt = expected.lastIndexOf('@');
  if (at < 0 || expectedAt < 0) return false;
  return presented.slice(0, at) === expected.slice(0, expectedAt) && presented.slice(at + 1).toLowerCase() === expected.slice(expectedAt + 1).toLowerCase();
}

/**
 * Whether one of the names presented in subjectAltName is the expected peer name.
 *
 * @example
 * matchesPeerName(leaf.subjectAltNames, { kind: 'DNS', value: 'foo.example.com' }) // true for SAN *.example.com
 */
export function matchesPeerName(presented: readonly GeneralName[], expected: PeerName): boolean {
  if (expected.kind === 'IP') {
    const address = parseIpAddress(expected.value);
    if (!address) return false;
    return presented.some((name) => name.kind === 'ip' && name.bytes.length === address.length && name.bytes.every((octet, index) => octet === address[index]));
  }
  if (expected.kind === 'RFC822') return presented.some((name) => name.kind === 'email' && emailMatches(name.value, expected.value));
  return presented.some((name) => name.kind === 'dns' && dnsMatches(name.value, expected.value));
}
