/**
 * Signatures on certificates and CRLs (both are SIGNED{…} structures: a TBS part,
 * an algorithm and a BIT STRING), and the public keys that verify them. Only the
 * algorithms CoconutPay accepts are mapped to WebCrypto; anything else is refused
 * by name before any cryptography runs.
 */
import {
  DerError,
  TAG,
  children,
  encoding,
  expectUniversal,
  isContext,
  isUniversal,
  readBitString,
  readIntegerBytes,
  readOid,
  readRoot,
  readSmallInteger,
  sequence,
  type DerElement,
} from './path-der.js';

/** Object identifiers of signature and key algorithms. */
export const ALGORITHM = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  rsassaPss: '1.2.840.113549.1.1.10',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
  ed25519: '1.3.101.112',
  mgf1: '1.2.840.113549.1.1.8',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
} as const;

/** Smallest RSA modulus the validator accepts. */
export const RSA_MODULUS_BITS_MIN = 2048;
/** Largest RSA modulus the validator accepts (bounds verification time). */
export const RSA_MODULUS_BITS_MAX = 8192;

type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';
type CurveName = 'P-256' | 'P-384' | 'P-521';

/** A public key the validator knows how to use. */
export type PublicKeyInfo =
  | { readonly kind: 'ec'; readonly curve: CurveName }
  | { readonly kind: 'rsa'; readonly modulusBits: number }
  | { readonly kind: 'ed25519' };

/** The parts of a SIGNED{…} structure. */
export interface SignedParts {
  readonly tbs: Uint8Array;
  /** DER of the outer AlgorithmIdentifier. */
  readonly algorithm: Uint8Array;
  readonly signature: Uint8Array;
}

/** A signature scheme in WebCrypto terms. */
export type SignatureScheme =
  | { readonly kind: 'ecdsa'; readonly hash: HashName }
  | { readonly kind: 'rsa-pkcs1'; readonly hash: HashName }
  | { readonly kind: 'rsa-pss'; readonly hash: HashName; readonly saltLength: number }
  | { readonly kind: 'ed25519' };

const HASHES: Readonly<Record<string, HashName>> = {
  [ALGORITHM.sha256]: 'SHA-256',
  [ALGORITHM.sha384]: 'SHA-384',
  [ALGORITHM.sha512]: 'SHA-512',
};

const CURVES: Readonly<Record<string, CurveName>> = {
  [ALGORITHM.p256]: 'P-256',
  [ALGORITHM.p384]: 'P-384',
  [ALGORITHM.p521]: 'P-521',
};

const CURVE_BYTES: Readonly<Record<CurveName, number>> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

/**
 * Splits a certificate or CRL into its TBS bytes, outer algorithm and signature.
 *
 * @example
 * const { tbs, signature } = readSigned(certificateDer);
 */
export function readSigned(der: Uint8Array): SignedParts {
  const [tbs, algorithm, signatureElement, extra] = sequence(readRoot(der), 'signed structure');
  if (!tbs || !algorithm || !signatureElement || extra) throw new DerError('signed structure: expected three fields');
  expectUniversal(tbs, TAG.sequence, 'TBS');
  expectUniversal(algorithm, TAG.sequence, 'signatureAlgorithm');
  const bits = readBitString(signatureElement, 'signatureValue');
  if (bits.unusedBits !== 0) throw new DerError('signatureValue: unused bits');
  return { tbs: encoding(tbs), algorithm: encoding(algorithm), signature: bits.bytes };
}

function hashOf(element: DerElement | undefined, what: string): HashName {
  const [oidElement, parameters, extra] = sequence(element, what);
  const oid = readOid(oidElement, what);
  if (extra || (parameters && !isUniversal(parameters, TAG.null))) throw new DerError(`${what}: unexpected parameters`);
  const hash = HASHES[oid];
  if (!hash) throw new DerError(`${what}: hash ${oid} is not accepted`);
  return hash;
}

function readPssParameters(element: DerElement | undefined): { hash: HashName; saltLength: number } {
  // RFC 4055: the defaults (SHA-1) are not accepted, so hash and MGF must be explicit.
  let hash: HashName | undefined;
  let mgfHash: HashName | undefined;
  let saltLength = 20;
  for (const field of sequence(element, 'RSASSA-PSS parameters')) {
    const [inner, extra] = children(field);
    if (!inner || extra) throw new DerError('RSASSA-PSS parameters: malformed field');
    if (isContext(field, 0)) hash = hashOf(inner, 'PSS hash');
    else if (isContext(field, 1)) {
      const [mgfOid, mgfParameters, more] = sequence(inner, 'PSS mask generation');
      if (readOid(mgfOid) !== ALGORITHM.mgf1 || more) throw new DerError('PSS mask generation must be MGF1');
      mgfHash = hashOf(mgfParameters, 'MGF1 hash');
    } else if (isContext(field, 2)) saltLength = readSmallInteger(inner, 'PSS salt length');
    else if (isContext(field, 3)) {
      if (readSmallInteger(inner, 'PSS trailer') !== 1) throw new DerError('PSS trailer field must be 1');
    } else throw new DerError('RSASSA-PSS parameters: unknown field');
  }
  if (!hash || !mgfHash) throw new DerError('RSASSA-PSS with SHA-1 is not accepted');
  if (hash !== mgfHash) throw new DerError('RSASSA-PSS hash and MGF1 hash differ');
  return { hash, saltLength };
}

/**
 * Maps a signature AlgorithmIdentifier (DER) to a scheme, or throws
 * {@link DerError} naming why it is not accepted (SHA-1, DSA, unknown…).
 */
export function signatureScheme(algorithmDer: Uint8Array): SignatureScheme {
  const [oidElement, parameters, extra] = sequence(readRoot(algorithmDer), 'signatureAlgorithm');
  const oid = readOid(oidElement, 'signatureAlgorithm');
  if (extra) throw new DerError('signatureAlgorithm: too many fields');
  const ecdsa: Readonly<Record<string, HashName>> = {
    [ALGORITHM.ecdsaWithSha256]: 'SHA-256',
    [ALGORITHM.ecdsaWithSha384]: 'SHA-384',
    [ALGORITHM.ecdsaWithSha512]: 'SHA-512',
  };
  const pkcs1: Readonly<Record<string, HashName>> = {
    [ALGORITHM.sha256WithRsa]: 'SHA-256',
    [ALGORITHM.sha384WithRsa]: 'SHA-384',
    [ALGORITHM.sha512WithRsa]: 'SHA-512',
  };
  const ecdsaHash = ecdsa[oid];
  if (ecdsaHash) {
    // RFC 5758 §3.2: the parameters field MUST be absent.
    if (parameters) throw new DerError('ECDSA signatureAlgorithm must have no parameters');
    return { kind: 'ecdsa', hash: ecdsaHash };
  }
  const pkcs1Hash = pkcs1[oid];
  if (pkcs1Hash) {
    if (parameters && !isUniversal(parameters, TAG.null)) throw new DerError('RSA signatureAlgorithm parameters must be NULL');
    return { kind: 'rsa-pkcs1', hash: pkcs1Hash };
  }
  if (oid === ALGORITHM.rsassaPss) return { kind: 'rsa-pss', ...readPssParameters(parameters) };
  if (oid === ALGORITHM.ed25519) {
    if (parameters) throw new DerError('Ed25519 signatureAlgorithm must have no parameters');
    return { kind: 'ed25519' };
  }
  throw new DerError(`signature algorithm ${oid} is not accepted`);
}

function bitLength(bytes: Uint8Array): number {
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  if (start === bytes.length) return 0;
  return (bytes.length - start - 1) * 8 + (32 - Math.clz32(bytes[start] as number));
}

/**
 * Reads a SubjectPublicKeyInfo and applies CoconutPay's key policy: EC keys on
 * P-256, P-384 or P-521 by named curve, RSA keys of 2048 to 8192 bits in whole
 * bytes, or Ed25519. Throws {@link DerError} naming the refusal.
 */
export function readPublicKeyInfo(spkiDer: Uint8Array): PublicKeyInfo {
  const [algorithm, keyBits, extra] = sequence(readRoot(spkiDer), 'subjectPublicKeyInfo');
  if (!keyBits || extra) throw new DerError('subjectPublicKeyInfo: expected two fields');
  const [oidElement, parameters, more] = sequence(algorithm, 'public key algorithm');
  const oid = readOid(oidElement, 'public key algorithm');
  const key = readBitString(keyBits, 'subjectPublicKey');
  if (more) throw new DerError('public key algorithm: too many fields');
  if (oid === ALGORITHM.ecPublicKey) {
    if (!parameters || !isUniversal(parameters, TAG.oid)) throw new DerError('EC keys must name their curve (explicit curves are refused)');
    const curveOid = readOid(parameters, 'namedCurve');
    const curve = CURVES[curveOid];
    if (!curve) throw new DerError(`EC curve ${curveOid} is not accepted`);
    if (key.bytes.length !== 1 + 2 * CURVE_BYTES[curve] || key.bytes[0] !== 4) throw new DerError('EC public key must be an uncompressed point');
    return { kind: 'ec', curve };
  }
  if (oid === ALGORITHM.rsaEncryption) {
    if (parameters && !isUniversal(parameters, TAG.null)) throw new DerError('rsaEncryption parameters must be NULL');
    const [modulus, exponent, tail] = sequence(readRoot(key.bytes), 'RSAPublicKey');
    if (!exponent || tail) throw new DerError('RSAPublicKey: expected modulus and exponent');
    const modulusBytes = readIntegerBytes(modulus, 'RSA modulus');
    readIntegerBytes(exponent, 'RSA exponent');
    const modulusBits = bitLength(modulusBytes);
    if (modulusBits < RSA_MODULUS_BITS_MIN || modulusBits > RSA_MODULUS_BITS_MAX || modulusBits % 8 !== 0) {
      throw new DerError(`RSA modulus of ${modulusBits} bits is not accepted`);
    }
    return { kind: 'rsa', modulusBits };
  }
  if (oid === ALGORITHM.ed25519) {
    if (parameters) throw new DerError('Ed25519 key must have no parameters');
    if (key.bytes.length !== 32) throw new DerError('Ed25519 key must be 32 bytes');
    return { kind: 'ed25519' };
  }
  throw new DerError(`public key algorithm ${oid} is not accepted`);
}

/** Why a scheme cannot be used with a key, or undefined when they fit together. */
export function schemeKeyMismatch(scheme: SignatureScheme, key: PublicKeyInfo): string | undefined {
  if (scheme.kind === 'ecdsa' && key.kind === 'ec') return undefined;
  if ((scheme.kind === 'rsa-pkcs1' || scheme.kind === 'rsa-pss') && key.kind === 'rsa') return undefined;
  if (scheme.kind === 'ed25519' && key.kind === 'ed25519') return undefined;
  return `a ${scheme.kind} signature cannot come from a ${key.kind} key`;
}

/** An ECDSA-Sig-Value (DER) as r‖s of `size`-byte halves, or undefined when it is not one (non-minimal or too long). */
export function ecdsaDerToRaw(signature: Uint8Array, size: number): Uint8Array | undefined {
  try {
    const [r, s, extra] = sequence(readRoot(signature), 'ECDSA signature');
    if (!s || extra) return undefined;
    const raw = new Uint8Array(size * 2);
    for (const [index, element] of [r, s].entries()) {
      let bytes = readIntegerBytes(element, 'ECDSA integer');
      if (((bytes[0] as number) & 0x80) !== 0) return undefined;
      while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
      if (bytes.length > size) return undefined;
      raw.set(bytes, index * size + size - bytes.length);
    }
    return raw;
  } catch {
    return undefined;
  }
}

/** A copy in a fresh ArrayBuffer, as WebCrypto's types want. */
function buffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

/** Verifies a DER SIGNED{…} structure with an issuer's DER SubjectPublicKeyInfo. */
export type SignedVerifier = (signedDer: Uint8Array, issuerSpki: Uint8Array) => Promise<boolean>;

function importParameters(scheme: SignatureScheme, key: PublicKeyInfo): { name: string; namedCurve?: string; hash?: string } | undefined {
  if (scheme.kind === 'ecdsa' && key.kind === 'ec') return { name: 'ECDSA', namedCurve: key.curve };
  if (scheme.kind === 'rsa-pkcs1' && key.kind === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: scheme.hash };
  if (scheme.kind === 'rsa-pss' && key.kind === 'rsa') return { name: 'RSA-PSS', hash: scheme.hash };
  if (scheme.kind === 'ed25519' && key.kind === 'ed25519') return { name: 'Ed25519' };
  return undefined;
}

/**
 * A WebCrypto verifier for certificates and CRLs that keeps the public keys it
 * imported (one verifier per validation, so the cache lives as long as the call).
 * Returns false for a wrong signature and for anything the policy refuses; never
 * throws for bad input, and fails closed where the engine lacks an algorithm.
 *
 * @example
 * const verify = createWebCryptoVerifier();
 * const ok = await verify(leafDer, issuerSpkiDer);
 */
export function createWebCryptoVerifier(): SignedVerifier {
  const keys = new Map<string, Promise<CryptoKey>>();
  return async (signedDer, issuerSpki) => {
    let parts: SignedParts;
    let scheme: SignatureScheme;
    let key: PublicKeyInfo;
    try {
      parts = readSigned(signedDer);
      scheme = signatureScheme(parts.algorithm);
      key = readPublicKeyInfo(issuerSpki);
    } catch {
      return false;
    }
    const parameters = importParameters(scheme, key);
    const subtle = globalThis.crypto?.subtle;
    if (!parameters || !subtle) return false;
    let signature = parts.signature;
    if (scheme.kind === 'ecdsa' && key.kind === 'ec') {
      const raw = ecdsaDerToRaw(parts.signature, CURVE_BYTES[key.curve]);
      if (!raw) return false;
      signature = raw;
    }
    let cacheKey = `${parameters.name}|${parameters.hash ?? ''}|`;
    for (const octet of issuerSpki) cacheKey += String.fromCharCode(octet);
    try {
      let cryptoKey = keys.get(cacheKey);
      if (!cryptoKey) {
        cryptoKey = subtle.importKey('spki', buffer(issuerSpki), parameters, false, ['verify']);
        keys.set(cacheKey, cryptoKey);
      }
      const algorithm =
        scheme.kind === 'ecdsa' ? { name: 'ECDSA', hash: scheme.hash } : scheme.kind === 'rsa-pss' ? { name: 'RSA-PSS', saltLength: scheme.saltLength } : { name: parameters.name };
      return await subtle.verify(algorithm, await cryptoKey, buffer(signature), buffer(parts.tbs));
    } catch {
      return false;
    }
  };
}

/**
 * Verifies one SIGNED{…} structure (certificate or CRL) with WebCrypto, without
 * a key cache. See {@link createWebCryptoVerifier}.
 *
 * @example
 * const ok = await verifySignedWithWebCrypto(leafDer, issuerSpkiDer);
 */
export function verifySignedWithWebCrypto(signedDer: Uint8Array, issuerSpki: Uint8Array): Promise<boolean> {
  return createWebCryptoVerifier()(signedDer, issuerSpki);
}
