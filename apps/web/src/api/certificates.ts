/**
 * The certificate center's calls: issue, list, read, revoke, the challenge-and-proof
 * test, and additional certificates (a new device asks, the master device approves
 * or rejects) with the history of who was let in.
 */
import type { PinVerifier } from '@coconutpay/core/protocol/certificate-login';
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
  /** For an additional certificate, the master that approved it; revoking that master revokes this one too. */
  approvedByCertificateId: string | null;
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

/** The master key's signature that lets the server revoke an additional certificate. */
export interface MasterRevocationProof {
  masterCertificateId: string;
  challengeId: string;
  /** base64url IEEE P1363 over `revocationMessage(…)` of core's master-approval module. */
  signature: string;
}

/**
 * Revokes one of my certificates. A master needs no proof (its devices go with it);
 * an additional certificate needs `masterProof`.
 */
export function revokeCertificate(id: string, reason: RevocationReason, masterProof?: MasterRevocationProof): Promise<CertificateInfo> {
  return authed.post<CertificateInfo>(`/api/certificates/${encodeURIComponent(id)}/revoke`, masterProof ? { reason, masterProof } : { reason });
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

// --- Additional certificates ------------------------------------------------------

/** Where a device request stands. */
export type DeviceRequestStatus = 'pending' | 'approved' | 'rejected' | 'expired';

/** A device request as the new device follows it; `issued` is set once approved. */
export interface DeviceRequestState {
  id: string;
  nickname: string;
  status: DeviceRequestStatus;
  /** The 6-digit code as the server computed it (each device recomputes it). */
  code: string;
  /** base64url nonce mixed into the code. */
  serverNonce: string;
  expiresAtMs: number;
  issued: IssuedCertificate | null;
}

/** A pending request as the master device sees it, with the key to recompute the code from. */
export interface PendingDeviceRequest {
  id: string;
  nickname: string;
  code: string;
  /** The new device's SubjectPublicKeyInfo DER, standard base64. */
  spkiBase64: string;
  spkiSha256Hex: string;
  serverNonce: string;
  createdAtMs: number;
  expiresAtMs: number;
  requestedFrom: string | null;
  requestedAgent: string | null;
}

/** What happened to my certificates, for the history list. */
export type CertificateEventKind = 'master_issued' | 'device_requested' | 'device_approved' | 'device_rejected' | 'device_expired' | 'revoked';

/** One entry of my certificate history. */
export interface CertificateEvent {
  id: string;
  /** One of {@link CertificateEventKind}; a newer server may send others. */
  kind: string;
  certificateId: string | null;
  requestId: string | null;
  nickname: string | null;
  detail: string | null;
  ip: string | null;
  userAgent: string | null;
  atMs: number;
}

const requestPath = (id: string) => `/api/certificates/requests/${encodeURIComponent(id)}`;

/** From the new device: asks for an additional certificate for the key in `csrPem`. */
export function createDeviceRequest(nickname: string, csrPem: string): Promise<DeviceRequestState> {
  return authed.post<DeviceRequestState>('/api/certificates/requests', { nickname, csrPem });
}

/** One request's current state (the fallback when the event stream breaks). */
export function getDeviceRequest(id: string): Promise<DeviceRequestState> {
  return authed.get<DeviceRequestState>(requestPath(id));
}

/** The path of a request's event stream (`state`, then one `decision`). */
export function deviceRequestEventsPath(id: string): string {
  return `${requestPath(id)}/events`;
}

/** On the master device: requests waiting for a decision. */
export async function listPendingDeviceRequests(): Promise<PendingDeviceRequest[]> {
  const { items } = await authed.get<{ items: PendingDeviceRequest[] }>('/api/certificates/requests');
  return items;
}

/** On the master device: approves with the master key's signature over `approvalMessage(…)`. */
export function approveDeviceRequest(id: string, masterCertificateId: string, signature: string): Promise<DeviceRequestState> {
  return authed.post<DeviceRequestState>(`${requestPath(id)}/approve`, { masterCertificateId, signature });
}

/** On the master device: refuses a request. */
export function rejectDeviceRequest(id: string): Promise<DeviceRequestState> {
  return authed.post<DeviceRequestState>(`${requestPath(id)}/reject`, {});
}

/** Which devices were let in or revoked, when, from where; newest first as the server orders it. */
export async function listCertificateHistory(): Promise<CertificateEvent[]> {
  const { items } = await authed.get<{ items: CertificateEvent[] }>('/api/certificates/history');
  return items;
}

/** Enables certificate login for one of my certificates: the PIN verifier derived here from its password. */
export function registerLoginVerifier(certificateId: string, verifier: PinVerifier): Promise<void> {
  return authed.put<void>(`/api/certificates/${encodeURIComponent(certificateId)}/login-verifier`, verifier);
}
