/** The certificate center's calls: issue, list, read, revoke, and the challenge-and-proof test. */
import { authed } from './client.js';

/** What kind of certificate: one master per user, any number of additional ones. */
export type CertificateKind = 'master' | 'additional';
/** Where a certificate stands, as the server computes it now. */
export type CertificateStatus = 'active' | 'revoked' | 'expired';
/** Why a certificate is being revoked (RFC 5280 §5.3.1 names). */
export type RevocationReason = 'keyCompromise' | 'superseded' | 'cessationOfOperation';

/** One certificate as its owner sees it. */
export interface CertificateInfo {
  id: string;
  serialHex: string;
  kind: CertificateKind;
  subject: string;
  status: CertificateStatus;
  notBeforeMs: number;
  notAfterMs: number;
  revokedAtMs: number | null;
  revocationReason: string | null;
  deviceNickname: string | null;
  spkiSha256Hex: string;
  lastUsedAtMs: number | null;
  createdAtMs: number;
}

/** A certificate with its PEM and the CA chain above it (issuing CA, then root). */
export interface IssuedCertificate {
  certificate: CertificateInfo;
  certificatePem: string;
  chainPem: string;
}

/** A one-time challenge for testing a certificate. */
export interface CertificateChallenge {
  challengeId: string;
  challenge: string;
  expiresAtMs: number;
}

/**
 * Asks the CA for a master certificate for the key in `csrPem`. `replace` is the
 * lost-device re-issue: the server revokes the current master and everything under it.
 */
export function issueMasterCertificate(csrPem: string, replace: boolean): Promise<IssuedCertificate> {
  return authed.post<IssuedCertificate>('/api/certificates/master', replace ? { csrPem, replace: true } : { csrPem });
}

/** My certificates. */
export async function listCertificates(): Promise<CertificateInfo[]> {
  const { items } = await authed.get<{ items: CertificateInfo[] }>('/api/certificates');
  return items;
}

/** One of my certificates with its PEM and chain. */
export function getCertificate(id: string): Promise<IssuedCertificate> {
  return authed.get<IssuedCertificate>(`/api/certificates/${encodeURIComponent(id)}`);
}

/** Revokes one of my certificates. */
export function revokeCertificate(id: string, reason: RevocationReason): Promise<CertificateInfo> {
  return authed.post<CertificateInfo>(`/api/certificates/${encodeURIComponent(id)}/revoke`, { reason });
}

/** A fresh one-time challenge. */
export function createCertificateChallenge(): Promise<CertificateChallenge> {
  return authed.post<CertificateChallenge>('/api/certificates/challenge');
}

/** Sends the signature over the challenge; resolves only when the server accepts it. */
export function proveCertificate(id: string, challengeId: string, signature: string): Promise<{ valid: true; checkedAtMs: number }> {
  return authed.post<{ valid: true; checkedAtMs: number }>(`/api/certificates/${encodeURIComponent(id)}/proof`, { challengeId, signature });
}

/** The exact bytes a certificate test signs (UTF-8 of this text). */
export function certificateTestMessage(challenge: CertificateChallenge): string {
  return `coconutpay-certificate-test\n${challenge.challengeId}\n${challenge.challenge}`;
}
