/**
 * Names in certificates as path validation sees them: distinguished names (with
 * the comparison RFC 5280 §7.1 asks for), general names from subjectAltName and
 * name constraints, their syntax rules, and the subtree matching of §4.2.1.10.
 */
import {
  DerError,
  TAG,
  TAG_CLASS,
  children,
  content,
  encoding,
  expectUniversal,
  readOid,
  readString,
  sequence,
  toHex,
  type DerElement,
} from './path-der.js';

/** One attribute of a relative distinguished name. */
export interface NameAttribute {
  readonly type: string;
  /** The value decoded as text when it is a string type, otherwise undefined. */
  readonly text: string | undefined;
  /** The DER encoding of the value. */
  readonly valueDer: Uint8Array;
}

/** A decoded distinguished name. */
export interface DistinguishedName {
  readonly der: Uint8Array;
  readonly rdns: readonly (readonly NameAttribute[])[];
  /** Comparison key: equal keys mean equal names under RFC 5280 §7.1 (simplified RFC 4518 folding). */
  readonly key: string;
  /** Number of attributes over all RDNs (bounds name-constraint work). */
  readonly attributeCount: number;
}

/** A general name (RFC 5280 §4.2.1.6), reduced to the forms the validator understands. */
export type GeneralName =
  | { readonly kind: 'dns'; readonly value: string }
  | { readonly kind: 'email'; readonly value: string }
  | { readonly kind: 'uri'; readonly value: string }
  | { readonly kind: 'ip'; readonly bytes: Uint8Array }
  | { readonly kind: 'directory'; readonly name: DistinguishedName }
  /** otherName [0], x400Address [3], ediPartyName [5], registeredID [8]: recognised but not interpreted. */
  | { readonly kind: 'other'; readonly tagNumber: number };

/** One permitted or excluded subtree; `base` is a general name used as a pattern. */
export interface NameSubtree {
  readonly base: GeneralName;
}

/** A decoded nameConstraints extension. */
export interface NameConstraints {
  readonly permitted: readonly NameSubtree[];
  readonly excluded: readonly NameSubtree[];
}

const STRING_TAGS: ReadonlySet<number> = new Set([
  TAG.utf8String,
  TAG.printableString,
  TAG.teletexString,
  TAG.ia5String,
  TAG.bmpString,
  TAG.universalString,
  26 /* VisibleString */,
]);

/** The PKCS#9 emailAddress attribute, which RFC 5280 §4.2.1.10 puts under rfc822Name constraints. */
export const EMAIL_ADDRESS_ATTRIBUTE = '1.2.840.113549.1.9.1';

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  [EMAIL_ADDRESS_ATTRIBUTE]: 'emailAddress',
};

function foldForComparison(text: string): string {
  // RFC 4518 in small: case folding and insignificant space handling.
  return text.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

/**
 * Decodes a Name (SEQUENCE OF RelativeDistinguishedName).
 *
 * @example
 * const issuer = readDistinguishedName(tbsFields[3]);
 */
export function readDistinguishedName(element: DerElement | undefined, what = 'Name'): DistinguishedName {
  const rdnElements = sequence(element, what);
  const rdns: NameAttribute[][] = [];
  const keyParts: string[] = [];
  let attributeCount = 0;
  for (const rdnElement of rdnElements) {
    const attributes = children(expectUniversal(rdnElement, TAG.set, `${what} RDN`));
    if (attributes.length === 0) throw new DerError(`${what}: empty RDN`);
    const rdn: NameAttribute[] = [];
    for (const attributeElement of attributes) {
      const [typeElement, valueElement, extra] = sequence(attributeElement, `${what} attribute`);
      if (!valueElement || extra) throw new DerError(`${what}: attribute is not a type and a value`);
      const type = readOid(typeElement, `${what} attribute type`);
      const isString = valueElement.tagClass === TAG_CLASS.universal && STRING_TAGS.has(valueElement.tagNumber) && !valueElement.constructed;
      const text = isString ? readString(valueElement) : undefined;
      rdn.push({ type, text, valueDer: encoding(valueElement) });
      attributeCount++;
    }
    rdns.push(rdn);
    const parts = rdn.map((attribute) => `${attribute.type}=${attribute.text === undefined ? `#${toHex(attribute.valueDer)}` : JSON.stringify(foldForComparison(attribute.text))}`);
    parts.sort();
    keyParts.push(parts.join('+'));
  }
  return { der: encoding(element as DerElement), rdns, key: keyParts.join(','), attributeCount };
}

/** Whether two names are equal under the validator's comparison rules. */
export function namesEqual(a: DistinguishedName, b: DistinguishedName): boolean {
  return a.key === b.key;
}

/** A readable one-line form of a name, most significant RDN first (for reports only). */
export function formatDistinguishedName(name: DistinguishedName): string {
  return name.rdns
    .map((rdn) => rdn.map((attribute) => `${SHORT_NAMES[attribute.type] ?? attribute.type}=${attribute.text ?? `#${toHex(attribute.valueDer)}`}`).join('+'))
    .join(', ');
}

function rdnKey(rdn: readonly NameAttribute[]): string {
  return rdn
    .map((attribute) => `${attribute.type}=${attribute.text === undefined ? `#${toHex(attribute.valueDer)}` : foldForComparison(attribute.text)}`)
    .sort()
    .join('+');
}

function readIa5(element: DerElement, what: string): string {
  const bytes = content(element);
  let text = '';
  for (const octet of bytes) {
    if (octet > 0x7f) throw new DerError(`${what}: not an IA5String`);
    text += String.fromCharCode(octet);
  }
  return text;
}

/**
 * Decodes one GeneralName. Unknown tags are refused.
 *
 * @example
 * const names = sequence(sanValue, 'subjectAltName').map((element) => readGeneralName(element));
 */
export function readGeneralName(element: DerElement, what = 'GeneralName'): GeneralName {
  if (element.tagClass !== TAG_CLASS.contextSpecific) throw new DerError(`${what}: not a GeneralName`);
  switch (element.tagNumber) {
    case 1:
    case 2:
    case 6: {
      if (element.constructed) throw new DerError(`${what}: string name is constructed`);
      const value = readIa5(element, what);
      return element.tagNumber === 1 ? { kind: 'email', value } : element.tagNumber === 2 ? { kind: 'dns', value } : { kind: 'uri', value };
    }
    case 7:
      if (element.constructed) throw new DerError(`${what}: iPAddress is constructed`);
      return { kind: 'ip', bytes: content(element) };
    case 4: {
      const [inner, extra] = children(element);
      if (!inner || extra) throw new DerError(`${what}: directoryName must hold one Name`);
      return { kind: 'directory', name: readDistinguishedName(inner, `${what} directoryName`) };
    }
    case 0:
    case 3:
    case 5:
      if (!element.constructed) throw new DerError(`${what}: expected a constructed name`);
      return { kind: 'other', tagNumber: element.tagNumber };
    case 8:
      return { kind: 'other', tagNumber: 8 };
    default:
      throw new DerError(`${what}: unknown GeneralName tag [${element.tagNumber}]`);
  }
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

function isHostName(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  return text.split('.').every((label) => LABEL.test(label));
}

/**
 * Whether a dNSName from subjectAltName has the preferred name syntax
 * (RFC 5280 §4.2.1.6, RFC 1034 §3.5 with RFC 1123 §2.1), allowing only a whole
 * `*` as the left-most label.
 */
export function isValidDnsName(text: string): boolean {
  if (text.startsWith('*.')) return isHostName(text.slice(2)) && text.slice(2).includes('.');
  return isHostName(text);
}

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** Whether an rfc822Name from subjectAltName is a mailbox `local@host` (RFC 5280 §4.2.1.6). */
export function isValidEmail(text: string): boolean {
  const at = text.lastIndexOf('@');
  if (at <= 0 || text.indexOf('@') !== at) return false;
  return LOCAL_PART.test(text.slice(0, at)) && isHostName(text.slice(at + 1));
}

/** Syntax problem of a subjectAltName entry, or undefined when it is well formed. */
export function generalNameProblem(name: GeneralName): string | undefined {
  switch (name.kind) {
    case 'dns':
      return isValidDnsName(name.value) ? undefined : `dNSName ${JSON.stringify(name.value)} is not a host name`;
    case 'email':
      return isValidEmail(name.value) ? undefined : `rfc822Name ${JSON.stringify(name.value)} is not a mailbox`;
    case 'ip':
      return name.bytes.length === 4 || name.bytes.length === 16 ? undefined : `iPAddress has ${name.bytes.length} octets`;
    case 'uri':
      return name.value.length > 0 ? undefined : 'uniformResourceIdentifier is empty';
    default:
      return undefined;
  }
}

function isContiguousMask(mask: Uint8Array): boolean {
  let seenZero = false;
  for (const octet of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const set = ((octet >> bit) & 1) === 1;
      if (set && seenZero) return false;
      if (!set) seenZero = true;
    }
  }
  return true;
}

/** Syntax problem of a name-constraint base, or undefined when it is well formed. */
export function subtreeProblem(base: GeneralName): string | undefined {
  switch (base.kind) {
    case 'dns':
      // RFC 5280 §4.2.1.10: a host name to which labels may be added on the left; no wildcards, no leading period.
      return base.value === '' || isHostName(base.value) ? undefined : `dNSName constraint ${JSON.stringify(base.value)} is not a host name`;
    case 'email': {
      const value = base.value;
      if (value.includes('@')) return isValidEmail(value) ? undefined : `rfc822Name constraint ${JSON.stringify(value)} is not a mailbox`;
      const host = value.startsWith('.') ? value.slice(1) : value;
      return isHostName(host) ? undefined : `rfc822Name constraint ${JSON.stringify(value)} is not a host or domain`;
    }
    case 'uri': {
      const host = base.value.startsWith('.') ? base.value.slice(1) : base.value;
      return isHostName(host) ? undefined : `URI constraint ${JSON.stringify(base.value)} is not a host or domain`;
    }
    case 'ip': {
      if (base.bytes.length !== 8 && base.bytes.length !== 32) return `iPAddress constraint has ${base.bytes.length} octets, not an address and a mask`;
      const half = base.bytes.length / 2;
      return isContiguousMask(base.bytes.subarray(half)) ? undefined : 'iPAddress constraint mask is not contiguous';
    }
    default:
      return undefined;
  }
}

function readSubtrees(element: DerElement, what: string): NameSubtree[] {
  const subtrees: NameSubtree[] = [];
  for (const subtreeElement of children(element)) {
    const [baseElement, ...bounds] = sequence(subtreeElement, what);
    if (!baseElement) throw new DerError(`${what}: missing base`);
    // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent.
    for (const bound of bounds) {
      if (bound.tagClass !== TAG_CLASS.contextSpecific) throw new DerError(`${what}: unexpected bound`);
      if (bound.tagNumber === 1) throw new DerError(`${what}: maximum must be absent`);
      if (bound.tagNumber === 0 && !(bound.end - bound.contentStart === 1 && bound.bytes[bound.contentStart] === 0)) {
        throw new DerError(`${what}: minimum must be zero`);
      }
    }
    subtrees.push({ base: readGeneralName(baseElement, `${what} base`) });
  }
  if (subtrees.length === 0) throw new DerError(`${what}: GeneralSubtrees must not be empty`);
  return subtrees;
}

/**
 * Decodes a nameConstraints extension value (RFC 5280 §4.2.1.10).
 *
 * @example
 * const constraints = readNameConstraints(readRoot(extensionValue));
 */
export function readNameConstraints(element: DerElement): NameConstraints {
  const parts = sequence(element, 'nameConstraints');
  let permitted: NameSubtree[] = [];
  let excluded: NameSubtree[] = [];
  let lastTag = -1;
  for (const part of parts) {
    if (part.tagClass !== TAG_CLASS.contextSpecific || !part.constructed || part.tagNumber > 1 || part.tagNumber <= lastTag) {
      throw new DerError('nameConstraints: unexpected field');
    }
    lastTag = part.tagNumber;
    if (part.tagNumber === 0) permitted = readSubtrees(part, 'permittedSubtrees');
    else excluded = readSubtrees(part, 'excludedSubtrees');
  }
  if (permitted.length === 0 && excluded.length === 0) throw new DerError('nameConstraints: neither permitted nor excluded subtrees');
  return { permitted, excluded };
}

function hostWithin(host: string, base: string): boolean {
  const name = host.toLowerCase();
  const constraint = base.toLowerCase();
  return constraint === '' || name === constraint || name.endsWith(`.${constraint}`);
}

/** How a DNS name relates to a DNS subtree: every name it stands for lies inside, some might, or none do. */
function dnsRelation(name: string, base: string): 'all' | 'some' | 'none' {
  const lower = name.toLowerCase();
  if (!lower.startsWith('*.')) return hostWithin(lower, base) ? 'all' : 'none';
  // A wildcard stands for every name with one more label on the left of `rest`.
  const rest = lower.slice(2);
  if (hostWithin(rest, base)) return 'all';
  const constraint = base.toLowerCase();
  if (constraint.endsWith(`.${rest}`) && !constraint.slice(0, -rest.length - 1).includes('.')) return 'some';
  return 'none';
}

function emailWithin(mailbox: string, base: string): boolean {
  const at = mailbox.lastIndexOf('@');
  const local = mailbox.slice(0, at);
  const host = mailbox.slice(at + 1).toLowerCase();
  if (base.includes('@')) {
    const baseAt = base.lastIndexOf('@');
    // The local part is compared exactly (characters such as '*' are literal); the host case-insensitively.
    return local === base.slice(0, baseAt) && host === base.slice(baseAt + 1).toLowerCase();
  }
  if (base.startsWith('.')) return host.endsWith(base.toLowerCase());
  return host === base.toLowerCase();
}

function uriHost(uri: string): string | undefined {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/.exec(uri);
  const host = match?.[1];
  return host && host.length > 0 ? host : undefined;
}

function uriWithin(uri: string, base: string): boolean {
  const host = uriHost(uri);
  if (!host) return false;
  if (base.startsWith('.')) return host.toLowerCase().endsWith(base.toLowerCase());
  return host.toLowerCase() === base.toLowerCase();
}

function ipWithin(address: Uint8Array, base: Uint8Array): boolean {
  if (address.length * 2 !== base.length) return false;
  for (let i = 0; i < address.length; i++) {
    const mask = base[address.length + i] as number;
    if (((address[i] as number) & mask) !== ((base[i] as number) & mask)) return false;
  }
  return true;
}

function directoryWithin(name: DistinguishedName, base: DistinguishedName): boolean {
  if (base.rdns.length > name.rdns.length) return false;
  for (let i = 0; i < base.rdns.length; i++) {
    if (rdnKey(base.rdns[i] as NameAttribute[]) !== rdnKey(name.rdns[i] as NameAttribute[])) return false;
  }
  return true;
}

function sameForm(name: GeneralName, base: GeneralName): boolean {
  if (name.kind !== base.kind) return false;
  if (name.kind === 'other' && base.kind === 'other') return name.tagNumber === base.tagNumber;
  return true;
}

/** Relation between a name and a subtree of the same form. 'unknown' means the form cannot be evaluated. */
function relation(name: GeneralName, base: GeneralName): 'all' | 'some' | 'none' | 'unknown' {
  if (name.kind === 'dns' && base.kind === 'dns') return dnsRelation(name.value, base.value);
  if (name.kind === 'email' && base.kind === 'email') return emailWithin(name.value, base.value) ? 'all' : 'none';
  if (name.kind === 'uri' && base.kind === 'uri') return uriWithin(name.value, base.value) ? 'all' : 'none';
  if (name.kind === 'ip' && base.kind === 'ip') return ipWithin(name.bytes, base.bytes) ? 'all' : 'none';
  if (name.kind === 'directory' && base.kind === 'directory') return directoryWithin(name.name, base.name) ? 'all' : 'none';
  return 'unknown';
}

/** Why a name breaks a set of constraints, or undefined when it satisfies them. */
export function nameConstraintViolation(name: GeneralName, constraints: NameConstraints): string | undefined {
  for (const subtree of constraints.excluded) {
    if (!sameForm(name, subtree.base)) continue;
    const found = relation(name, subtree.base);
    if (found === 'unknown') return `${describeName(name)}: constraints on this name form cannot be evaluated`;
    // A wildcard that might stand for an excluded name is refused (CVE-2025-61727).
    if (found !== 'none') return `${describeName(name)} is in an excluded subtree (${describeName(subtree.base)})`;
  }
  const sameFormPermitted = constraints.permitted.filter((subtree) => sameForm(name, subtree.base));
  if (sameFormPermitted.length === 0) return undefined;
  for (const subtree of sameFormPermitted) {
    const found = relation(name, subtree.base);
    if (found === 'unknown') return `${describeName(name)}: constraints on this name form cannot be evaluated`;
    if (found === 'all') return undefined;
  }
  return `${describeName(name)} is outside every permitted subtree`;
}

function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
    return groups.join(':');
  }
  if (bytes.length === 8 || bytes.length === 32) return `${formatIp(bytes.subarray(0, bytes.length / 2))}/${formatIp(bytes.subarray(bytes.length / 2))}`;
  return `#${toHex(bytes)}`;
}

/** A short readable form of a general name, for reasons. */
export function describeName(name: GeneralName): string {
  switch (name.kind) {
    case 'dns':
      return `DNS:${name.value}`;
    case 'email':
      return `email:${name.value}`;
    case 'uri':
      return `URI:${name.value}`;
    case 'ip':
      return `IP:${formatIp(name.bytes)}`;
    case 'directory':
      return `DirName:${formatDistinguishedName(name.name)}`;
    default:
      return `name form [${name.tagNumber}]`;
  }
}
