/**
 * Certificate login on S's side (docs/protocol.md, "Certificate login"): core's
 * CertificateLoginServer with our records behind it — the certificate gate (ours, of that
 * account, not revoked or expired, chain valid, master not revoked), the registered PIN
 * verifiers, the replay memory and handshakes in the database (so any server process may
 * take any message), and the account's login lock. Step (4) is AccountsService's session,
 * bound to the certificate.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '@coconutpay/core/errors';
import { seal, unseal } from '@coconutpay/core/payment';
import {
  CertificateLoginRefused, CertificateLoginServer, PIN_VERIFIER_ITERATIONS, pinVerifierSalt,
  type AuthServerKey, type LoginConfirm, type PinVerifier, type SignedLoginMessage,
} from '@coconutpay/core/protocol/certificate-login';
import { signJson } from '@coconutpay/core/pki/signed-json';
import { toBase64Url } from '@coconutpay/core/encoding';
import type { CertificateLoginRepository } from '../db/certificate-login-repository.js';
import type { UsersRepository } from '../db/users-repository.js';
import type { AccountsService, LoginResult } from './accounts.js';
import type { Actor } from './actor.js';
import type { DeviceCertificatesService } from './device-certificates.js';
import type { ServerRoles } from './pki/server-roles.js';
import { x509 } from './pki/x509.js';

const B64U = (bytes: number) => new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((bytes * 4) / 3)}}$`);

function refusal(error: unknown): never {
  if (error instanceof CertificateLoginRefused) throw new AppError(error.code, { detail: `${error.detail[0]!.toUpperCase()}${error.detail.slice(1)}.` });
  throw error;
}

export class CertificateLoginService {
  private readonly core: CertificateLoginServer;
  private serverKeyPromise: Promise<AuthServerKey> | undefined;

  constructor(
    private readonly deps: {
      repo: CertificateLoginRepository;
      users: UsersRepository;
      devices: DeviceCertificatesService;
      accounts: AccountsService;
      roles: ServerRoles;
      clock: () => number;
    },
  ) {
    this.core = new CertificateLoginServer(
      {
        clock: deps.clock,
        random: (n) => new Uint8Array(randomBytes(n)),
        newId: randomUUID,
        store: deps.repo,
        agreementKey: deps.roles.authAgreement.privateKey,
        signingKey: deps.roles.auth.privateKey,
        x5c: deps.roles.auth.x5c,
        certificateOf: async (loginId, certificateId, nowMs) => {
          const user = await deps.users.findByLoginId(loginId);
          // An unknown id owns no certificate: the answer is the same as for another account's certificate.
          const { record, certificateDer } = await deps.devices.usableBy(user?.id ?? '', certificateId, 'payment', nowMs);
          const publicKey = await new x509.X509Certificate(new Uint8Array(certificateDer)).publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify']);
          return { userId: record.userId, publicKey, verifier: await deps.repo.verifierOf(certificateId) };
        },
      },
      { seal, unseal },
    );
  }

  /** S's key agreement key, signed by S (so a browser can tell it is S's before sealing to it). */
  serverKey(): Promise<AuthServerKey> {
    this.serverKeyPromise ??= (async () => {
      const agreementKey = this.deps.roles.authAgreement.publicJwk;
      return { agreementKey, agreementKeyJws: await signJson(agreementKey, this.deps.roles.auth.privateKey, this.deps.roles.auth.x5c, 'coconutpay-auth-key+jws') };
    })();
    return this.serverKeyPromise;
  }

  /**
   * Enables certificate login for one of the actor's certificates: the PIN verifier the
   * browser derived from the certificate's password. A new one replaces the old.
   */
  async registerVerifier(actor: Actor, certificateId: string, verifier: PinVerifier): Promise<void> {
    if (!B64U(16).test(verifier.salt) || !B64U(32).test(verifier.storedKey)) throw new AppError('VALIDATION_FAILED', { detail: 'The salt is 16 bytes and the stored key 32 bytes, base64url.' });
    if (actor.certificateId !== undefined && actor.certificateId !== certificateId) throw new AppError('CERTIFICATE_SESSION_RESTRICTED');
    // The salt and cost the browser uses: anything else would only break the login, or make a leaked verifier cheaper to attack.
    if (verifier.salt !== toBase64Url(await pinVerifierSalt(certificateId)) || verifier.iterations !== PIN_VERIFIER_ITERATIONS) {
      throw new AppError('VALIDATION_FAILED', { detail: `The salt must be derived from the certificate id and the iterations must be ${PIN_VERIFIER_ITERATIONS}.` });
    }
    const nowMs = this.deps.clock();
    await this.deps.devices.usable(actor, certificateId, 'payment', nowMs);
    await this.deps.repo.saveVerifier(certificateId, actor.userId, verifier, nowMs);
  }

  /** Messages (1) → (2). Counts toward the account's login lock like a password attempt. */
  async hello(sealedHello: string, clientAddress: string): Promise<{ handshakeId: string; sealedChallenge: string }> {
    try {
      // The address the attempt is counted against goes with the handshake: its success at (3) is recorded against it.
      const answered = await this.core.hello(sealedHello, async (loginId, nowMs) => {
        await this.deps.accounts.admitLoginAttempt(loginId, clientAddress, nowMs);
        return clientAddress;
      });
      return { handshakeId: answered.handshakeId, sealedChallenge: answered.sealedChallenge };
    } catch (error) {
      return refusal(error);
    }
  }

  /** Messages (3) → (4): the session, bound to the certificate. */
  async confirm(loginId: string, signed: SignedLoginMessage<LoginConfirm>, clientAddress: string): Promise<LoginResult> {
    let proven: { userId: string; certificateId: string; admission: string | null };
    try {
      proven = await this.core.confirm(loginId, signed);
    } catch (error) {
      return refusal(error);
    }
    return this.deps.accounts.openCertificateSession(proven.userId, proven.certificateId, loginId, clientAddress, proven.admission ?? clientAddress);
  }
}
