/**
 * Proof that the device making a login holds the key of one of that user's
 * certificates: the server issues a random challenge bound to the login id, valid for
 * `LOGIN_CHALLENGE_TTL_MS` and usable once; the device signs core's
 * `loginProofMessage` with the certificate's key; the certificate passes the same gate
 * as a payment signature (owner, status, validity, chain to our CA, master approval).
 *
 * Small on purpose: today it only lets a login pass the per-account lock; a fuller
 * certificate login (issue 14) can reuse `issueChallenge` and `verify` as they are.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '@coconutpay/core/errors';
import { loginProofMessage, type CertificateLoginProof, type LoginChallenge } from '@coconutpay/core/pki/possession-proof';
import type { LoginChallengesRepository } from '../db/login-challenges-repository.js';
import type { UsersRepository } from '../db/users-repository.js';
import type { DeviceCertificatesService } from './device-certificates.js';
import type { CertificateVerifier } from './pki/certificate-verifier.js';

/** How long a login challenge may be signed and used: long enough to type a certificate password. */
export const LOGIN_CHALLENGE_TTL_MS = 2 * 60_000;

export interface CertificatePossessionDeps {
  challenges: LoginChallengesRepository;
  users: UsersRepository;
  devices: Pick<DeviceCertificatesService, 'usableBy'>;
  verifier: Pick<CertificateVerifier, 'signatureValid'>;
  clock: () => number;
}

export class CertificatePossession {
  constructor(private readonly deps: CertificatePossessionDeps) {}

  /**
   * A fresh challenge for `loginId`. Issued whether or not the id exists, so asking
   * reveals nothing about which ids exist.
   */
  async issueChallenge(loginId: string): Promise<LoginChallenge> {
    const nowMs = this.deps.clock();
    const challenge = { id: randomUUID(), loginId, challenge: randomBytes(32).toString('base64url'), expiresAtMs: nowMs + LOGIN_CHALLENGE_TTL_MS };
    await this.deps.challenges.insert(challenge, nowMs);
    return { challengeId: challenge.id, challenge: challenge.challenge, expiresAtMs: challenge.expiresAtMs };
  }

  /**
   * Checks a proof for `loginId` and uses up its challenge; returns the user and the
   * certificate proven, or throws the stable code of the first check that fails:
   * CHALLENGE_INVALID (unknown, of another id, used or expired), CERTIFICATE_NOT_FOUND,
   * CERTIFICATE_NOT_OWNED (also when no user has this id), CERTIFICATE_REVOKED,
   * CERTIFICATE_EXPIRED, a chain or approval code, or SIGNATURE_INVALID.
   */
  async verify(loginId: string, proof: CertificateLoginProof, nowMs = this.deps.clock()): Promise<{ userId: string; certificateId: string }> {
    const challenge = await this.deps.challenges.consume(proof.challengeId, loginId, nowMs);
    if (challenge === undefined) throw new AppError('CHALLENGE_INVALID');
    const user = await this.deps.users.findByLoginId(loginId);
    // The certificate is the one we issued and keep, looked up by id: bytes a client sends are
    // never trusted. For an id no user has, no certificate is owned (no user id is empty), so
    // the answers are the same as for another user's account and reveal nothing about which ids exist.
    const { certificateDer } = await this.deps.devices.usableBy(user?.id ?? '', proof.certificateId, 'payment', nowMs);
    // Unreachable (no certificate is owned by the empty id), and kept so that it stays so.
    if (!user) throw new AppError('CERTIFICATE_NOT_OWNED');
    const message = new TextEncoder().encode(loginProofMessage({ challengeId: proof.challengeId, challenge }, loginId));
    if (!this.deps.verifier.signatureValid(certificateDer, Buffer.from(proof.signature, 'base64url'), message)) throw new AppError('SIGNATURE_INVALID');
    return { userId: user.id, certificateId: proof.certificateId };
  }
}
