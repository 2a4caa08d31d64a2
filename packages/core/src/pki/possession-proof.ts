/**
 * Proof that a device holds the private key of one of a user's certificates: the
 * device signs a short-lived, single-use server challenge that is bound to a login id.
 * Today it lets a login pass the per-account lock (docs/protocol.md, "Login"); a fuller
 * certificate login (issue 14) is meant to reuse the same challenge and message.
 */

/** A challenge as the server hands it out. */
export interface LoginChallenge {
  challengeId: string;
  /** Random, base64url. */
  challenge: string;
  expiresAtMs: number;
}

/** What a login carries to prove possession: which certificate, which challenge, and the signature. */
export interface CertificateLoginProof {
  certificateId: string;
  challengeId: string;
  /** base64url IEEE P1363 ECDSA-SHA256 over {@link loginProofMessage}'s UTF-8 bytes. */
  signature: string;
}

/**
 * The exact text a device signs (UTF-8) to prove possession for `loginId`. The first
 * line names the purpose, so this signature can never stand for a certificate test,
 * an approval or a payment, whose messages start differently.
 *
 * @example
 * const message = loginProofMessage({ challengeId, challenge }, 'buyer1');
 */
export function loginProofMessage(challenge: Pick<LoginChallenge, 'challengeId' | 'challenge'>, loginId: string): string {
  return `coconutpay-login-proof\n${challenge.challengeId}\n${loginId}\n${challenge.challenge}`;
}
