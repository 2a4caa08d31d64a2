/**
 * CoconutPay's time-stamp authority (RFC 3161). It answers `POST /pki/tsa`
 * queries and, in process, stamps the signature value of every accepted payment
 * (the CAdES `signatureTimeStampToken` of its evidence), so the evidence proves
 * when it was signed long after the payer's certificate has expired.
 *
 * Tokens are laid out by core's time-stamp encoders from pieces encoded once per
 * TSA; per token only the TSTInfo (imprint, serial, genTime, nonce), the digest
 * attribute and the signature are new. Signing uses `node:crypto` with a
 * KeyObject, as json-signer.ts does: a token is made on every payment, and
 * WebCrypto's thread-pool round trip costs more than the signature itself.
 *
 * Policy ({@link POLICY.timeStamping}): genTime is the server clock with
 * millisecond resolution, accuracy stated as 1 second, no ordering; serial numbers
 * are the genTime in milliseconds (48 bits) followed by 80 random bits.
 */
import { hash, KeyObject, randomFillSync, sign } from 'node:crypto';
import { POLICY } from '@coconutpay/core/pki/oids';
import {
  assembleTimeStampToken, encodeMessageImprint, encodeTstInfo, IMPRINT_HASH_LENGTHS, NONCE_OCTETS_MAX, OID_TSP, parseTimeStampRequest,
  timeStampAuthorityProfile, timeStampResponse, timeStampSignedAttributes, type ParsedTimeStampRequest, type PkiFailure, type TimeStampAuthorityProfile,
} from '@coconutpay/core/pki/time-stamp';
import type { RoleIdentity } from './server-roles.js';

/** The accuracy the TSA states: the server clock is trusted to within a second of UTC. */
export const TSA_ACCURACY_SECONDS = 1;

/** What a query asks for besides the imprint. */
export interface StampOptions {
  /** The request's nonce, INTEGER content octets; echoed in the token. */
  nonce?: Uint8Array;
  /** Carry the TSA certificate and the issuing CA in the token. */
  certReq: boolean;
  /** A policy the requester insists on; only ours is accepted. */
  reqPolicy?: string;
}

/** What a message imprint is: the hash algorithm and the digest. */
export interface MessageImprint {
  hashOid: string;
  digest: Uint8Array;
}

type Refusal = { failure: PkiFailure; text: string };

/** Random octets per serial number. */
const SERIAL_RANDOM_OCTETS = 10;
/** Random octets drawn from the system at a time: one draw costs as much as a few hundred serials' worth. */
const RANDOM_POOL_OCTETS = 4096;

export class TimeStampAuthority {
  private readonly randomPool = new Uint8Array(RANDOM_POOL_OCTETS);
  private randomAt = RANDOM_POOL_OCTETS;

  private constructor(
    private readonly profile: TimeStampAuthorityProfile,
    private readonly privateKey: KeyObject,
    private readonly clock: () => number,
    private readonly policyOid: string,
  ) {}

  /**
   * Prepares the TSA of `identity` (its certificate, then the issuing CA, in `x5c`).
   *
   * @example
   * const tsa = await TimeStampAuthority.create({ identity: roles.tsa, clock });
   * const token = await tsa.stampSignature(signatureValue);
   */
  static async create(params: { identity: RoleIdentity; clock: () => number }): Promise<TimeStampAuthority> {
    const [certificate, ...others] = params.identity.x5c;
    if (!certificate) throw new Error('the TSA identity has no certificate');
    const profile = await timeStampAuthorityProfile({
      certificate,
      otherCertificates: others,
      policyOid: POLICY.timeStamping,
      accuracy: { seconds: TSA_ACCURACY_SECONDS },
    });
    return new TimeStampAuthority(profile, KeyObject.from(params.identity.privateKey), params.clock, POLICY.timeStamping);
  }

  /**
   * The DER TimeStampToken over SHA-256(`signatureValue`), certificates included:
   * what payment evidence carries as `signatureTimeStampToken`.
   */
  async stampSignature(signatureValue: Uint8Array): Promise<Uint8Array> {
    const digest = hash('sha256', signatureValue, 'buffer');
    return this.token(encodeMessageImprint(OID_TSP.sha256, digest), undefined, true);
  }

  /**
   * A DER TimeStampResp for an imprint: granted with a token, or a rejection
   * (badAlg for hashes other than SHA-256/384/512, badDataFormat for a digest of the
   * wrong length or an oversized nonce, unacceptedPolicy for another policy).
   */
  async stamp(messageImprint: MessageImprint, options: StampOptions): Promise<Uint8Array> {
    return this.answer(() => this.refusal(messageImprint, options) ?? this.token(encodeMessageImprint(messageImprint.hashOid, messageImprint.digest), options.nonce, options.certReq));
  }

  /**
   * Answers a DER TimeStampReq (the body of `application/timestamp-query`) with a
   * DER TimeStampResp. Failures are PKIStatus rejections, as RFC 3161 wants, never
   * exceptions.
   */
  async respond(requestDer: Uint8Array): Promise<Uint8Array> {
    let request: ParsedTimeStampRequest;
    try {
      request = parseTimeStampRequest(requestDer);
    } catch {
      return timeStampResponse({ failure: 'badDataFormat', text: 'The body is not a DER TimeStampReq.' });
    }
    return this.answer(() => {
      if (request.version !== 1) return { failure: 'badRequest', text: 'Only version 1 requests are taken.' };
      if (!request.hashParametersAcceptable) return { failure: 'badAlg', text: 'The hash algorithm takes no parameters.' };
      // RFC 3161 §2.4.1: an extension the TSA does not recognise, critical or not, is refused; we recognise none.
      if (request.extensions.length > 0) return { failure: 'unacceptedExtension', text: 'No request extension is supported.' };
      const options: StampOptions = { certReq: request.certReq, ...(request.nonce ? { nonce: request.nonce } : {}), ...(request.reqPolicy ? { reqPolicy: request.reqPolicy } : {}) };
      // The token repeats the request's imprint exactly as sent (RFC 3161 §2.4.2).
      return this.refusal(request, options) ?? this.token(request.messageImprintDer, request.nonce, request.certReq);
    });
  }

  private answer(make: () => Uint8Array | Refusal): Uint8Array {
    let result: Uint8Array | Refusal;
    try {
      result = make();
    } catch {
      // Nothing about our side's failure is told to the requester.
      result = { failure: 'systemFailure', text: 'The time-stamp could not be made.' };
    }
    return result instanceof Uint8Array ? timeStampResponse({ token: result }) : timeStampResponse(result);
  }

  private refusal(imprint: MessageImprint, options: StampOptions): Refusal | undefined {
    const length = IMPRINT_HASH_LENGTHS[imprint.hashOid];
    if (length === undefined) return { failure: 'badAlg', text: 'The hash algorithm is not accepted; use SHA-256, SHA-384 or SHA-512.' };
    if (imprint.digest.length !== length) return { failure: 'badDataFormat', text: 'The message imprint does not have the length of its hash.' };
    if (options.reqPolicy !== undefined && options.reqPolicy !== this.policyOid) return { failure: 'unacceptedPolicy', text: `Tokens are issued under policy ${this.policyOid} only.` };
    if (options.nonce && (options.nonce.length === 0 || options.nonce.length > NONCE_OCTETS_MAX)) return { failure: 'badDataFormat', text: `A nonce has at most ${NONCE_OCTETS_MAX} octets.` };
    return undefined;
  }

  private token(messageImprintDer: Uint8Array, nonce: Uint8Array | undefined, includeCertificates: boolean): Uint8Array {
    const genTimeMs = Math.floor(this.clock());
    const tstInfoDer = encodeTstInfo(this.profile, { messageImprintDer, serial: this.serialNumber(genTimeMs), genTimeMs, ...(nonce ? { nonce } : {}) });
    const signedAttributesDer = timeStampSignedAttributes(this.profile, hash('sha256', tstInfoDer, 'buffer'));
    const signatureDer = sign('sha256', signedAttributesDer, { key: this.privateKey, dsaEncoding: 'der' });
    return assembleTimeStampToken(this.profile, { tstInfoDer, signedAttributesDer, signatureDer, includeCertificates });
  }

  /**
   * A serial number's INTEGER content: genTime in milliseconds (6 octets) then 10
   * random octets. Two tokens share a serial only if made in the same millisecond
   * with the same 80 random bits; the time prefix also sorts serials by issue.
   */
  private serialNumber(genTimeMs: number): Uint8Array {
    const bytes = new Uint8Array(6 + SERIAL_RANDOM_OCTETS);
    let ms = genTimeMs;
    for (let i = 5; i >= 0; i--) {
      bytes[i] = ms % 256;
      ms = Math.floor(ms / 256);
    }
    if (this.randomAt + SERIAL_RANDOM_OCTETS > RANDOM_POOL_OCTETS) {
      randomFillSync(this.randomPool);
      this.randomAt = 0;
    }
    bytes.set(this.randomPool.subarray(this.randomAt, this.randomAt + SERIAL_RANDOM_OCTETS), 6);
    this.randomAt += SERIAL_RANDOM_OCTETS;
    // A minimal positive INTEGER: no leading zero octets (only before 2004), top bit clear (until year 6429).
    let start = 0;
    while (start < 5 && bytes[start] === 0) start++;
    if (start > 0 && ((bytes[start] as number) & 0x80) !== 0) start--;
    return bytes.subarray(start);
  }
}
