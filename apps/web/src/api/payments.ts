/**
 * Direct payment's calls (docs/protocol.md, "Payment authentication"): A's key to
 * seal the request to, the sealed request, the code picture, the signed
 * authorization; and the public check of an evidence file. The CA chain that
 * anchors every check in the page comes from `/pki/ca.pem`.
 */
import { toHex, type Bytes } from '@coconutpay/core/encoding';
import type { EvidenceVerdict } from '@coconutpay/core/payment/evidence';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { allPemBlocks } from '@coconutpay/core/pki/pem';
import { authed, authedBlob, getBytes, getText, post } from './client.js';

/** A's key agreement key (requests are sealed to it) and A's certificate chain. */
export interface PaymentServerKey {
  agreementKey: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  /** A's certificate, then the issuing CA: standard base64 DER. */
  x5c: string[];
}

/** A's answer to a request: the sealed, A-signed payment command. */
export interface IssuedCommand {
  comId: string;
  /** JWE to this payment's reply key, holding `{ jws }`. */
  sealedCommand: string;
  codeRequired: boolean;
  expiresAtMs: number;
}

/** The signed authorization, as CMS parts (all base64url). */
export interface AuthorizationBody {
  comId: string;
  content: string;
  signedAttributes: string;
  signature: string;
}

/** What a payment answers once the money moved. */
export interface PaymentReceipt {
  orderId: string;
  orderNumber: string;
  amountWon: number;
  paidAtMs: number;
  evidenceId: string;
  /** The device's DER ECDSA signature over the signed attributes, hex. */
  signatureHex: string;
}

/** A's key and chain. */
export function getPaymentServerKey(): Promise<PaymentServerKey> {
  return authed.get<PaymentServerKey>('/api/payments/server-key');
}

/** C → A: the sealed, device-signed request; answers with the sealed command. */
export function sendPaymentRequest(sealedRequest: string, locale: 'ko' | 'en'): Promise<IssuedCommand> {
  return authed.post<IssuedCommand>('/api/payments/requests', { sealedRequest, locale });
}

/** The verification code's picture (PNG) of a command that asks for one. */
export function getCodePicture(comId: string): Promise<Blob> {
  return authedBlob(`/api/payments/commands/${encodeURIComponent(comId)}/code.png`);
}

/** What asking for a new code answers: the code's tries left (a new code costs one). */
export interface CodeRenewal {
  triesLeft: number;
  expiresAtMs: number;
}

/** A new code and picture for a command, costing one of the code's tries. */
export function renewCode(comId: string): Promise<CodeRenewal> {
  return authed.post<CodeRenewal>(`/api/payments/commands/${encodeURIComponent(comId)}/code`, undefined);
}

/** A new code sent as text to the account's other devices with the payment-code page open; costs a try. */
export function shareCode(comId: string): Promise<CodeRenewal> {
  return authed.post<CodeRenewal>(`/api/payments/commands/${encodeURIComponent(comId)}/code/share`, undefined);
}

/** A code another device of this account shared, as the payment-code page shows it. */
export type { SharedCode } from '@coconutpay/core/payment';

/** The event stream of codes shared by this account's other devices. */
export const SHARED_CODES_EVENTS_PATH = '/api/payments/shared-codes/events';

/** C → A: the signed authorization; pays once. */
export function sendAuthorization(body: AuthorizationBody): Promise<PaymentReceipt> {
  return authed.post<PaymentReceipt>('/api/payments/authorizations', body);
}

/** Anyone: the server's verdict on an evidence file (standard base64 of the DER). */
export function verifyEvidenceOnServer(cmsBase64: string): Promise<EvidenceVerdict> {
  return post<EvidenceVerdict>('/api/evidence/verify', { cmsBase64 });
}

/** The service's CA chain in PEM: issuing CA, then root. */
export function getCaChainPem(): Promise<string> {
  return getText('/pki/ca.pem');
}

/** The root certificate (DER) at the end of a PEM chain; throws when there is none. */
export function rootFromChainPem(pem: string): Bytes {
  const root = allPemBlocks(pem, 'CERTIFICATE').at(-1);
  if (!root) throw new TypeError('no certificate in the CA chain');
  return root;
}

let rootPromise: Promise<Bytes> | undefined;

/**
 * The service's root certificate: the trust anchor of every check this page makes
 * (A's command signature, evidence). Fetched once per page load.
 */
export function loadRootCertificate(): Promise<Bytes> {
  rootPromise ??= getCaChainPem().then(rootFromChainPem);
  // A failed fetch is not remembered: the next caller asks again.
  rootPromise.catch(() => {
    rootPromise = undefined;
  });
  return rootPromise;
}

/**
 * The current CRL of each CA in the service's chain, for a check's "status now": the
 * issuing CA's (which revokes user certificates) and the root's. Fetched afresh for every
 * check, so a revocation shows at once. Each lives where the certificates below the CA name
 * it in their CRL distribution points: /pki/crl/ and the first 16 hex digits of the CA's
 * subject key identifier. The bytes are trusted no more than the file being checked: the
 * verifier takes a CRL only with a valid signature of the certificate's issuer.
 *
 * With the server's time when it sent them (the latest `Date` header), to judge them at: a
 * CRL re-issued at a revocation starts at the server's current second, and a browser whose
 * clock is a second behind would find it not yet valid, the status "unknown" exactly when a
 * revocation should show. Null when the server sent no time.
 */
export async function loadCurrentCrls(): Promise<{ crls: Bytes[]; serverTimeMs: number | null }> {
  const chain = allPemBlocks(await getCaChainPem(), 'CERTIFICATE');
  const answers = await Promise.all(chain.map((der) => {
    const keyId = parseCertificate(der).subjectKeyId;
    if (!keyId) throw new TypeError('a CA certificate without a subject key identifier');
    return getBytes(`/pki/crl/${toHex(keyId).slice(0, 16)}.crl`, 'application/pkix-crl');
  }));
  const times = answers.map((a) => a.serverTimeMs).filter((ms): ms is number => ms !== null);
  return { crls: answers.map((a) => a.bytes), serverTimeMs: times.length > 0 ? Math.max(...times) : null };
}
