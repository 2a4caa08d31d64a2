/**
 * Keeps one current CRL per issuer. A CRL is made on first request, again whenever a
 * certificate of that issuer is revoked, and at least hourly; each new CRL takes the
 * next CRL number. `nextUpdate` leaves an hour of overlap so a cached copy never
 * lapses before its successor exists.
 *
 * Revoked certificates stay on the CRL after they expire, and the CRL says so with
 * expiredCertsOnCRL (ITU-T X.509, OID 2.5.29.60). Its date is the issuer certificate's
 * notBefore: certificate rows are never deleted, so every certificate the issuer ever
 * revoked is listed, and no certificate of it can have expired before the issuer existed.
 */
import type { CertificatesRepository } from '../../db/certificates-repository.js';
import type { CertificateAuthority, Issuer } from './certificate-authority.js';
import { x509 } from './x509.js';

const REFRESH_MS = 3_600_000;
const NEXT_UPDATE_MS = 2 * REFRESH_MS;

const REASONS: Record<string, x509.X509CrlReason> = {
  keyCompromise: x509.X509CrlReason.keyCompromise,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
};

interface CachedCrl {
  der: Uint8Array;
  thisUpdateMs: number;
}

export class CrlPublisher {
  private readonly cache = new Map<string, Promise<CachedCrl>>();

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly certificates: CertificatesRepository,
    private readonly clock: () => number,
  ) {}

  /** The current DER CRL of an issuer. */
  async current(issuer: Issuer): Promise<Uint8Array> {
    const nowMs = this.clock();
    let pending = this.cache.get(issuer.id);
    if (pending) {
      const cached = await pending.catch(() => undefined);
      // A CRL from "the future" (the clock was set back) is no use as proof of status now.
      if (!cached || nowMs - cached.thisUpdateMs >= REFRESH_MS || cached.thisUpdateMs > nowMs) pending = undefined;
    }
    if (!pending) {
      pending = this.make(issuer, nowMs);
      this.cache.set(issuer.id, pending);
    }
    return (await pending).der;
  }

  /** Drops the cached CRL of an issuer: called after every revocation. */
  invalidate(issuerId: string): void {
    this.cache.delete(issuerId);
  }

  private async make(issuer: Issuer, nowMs: number): Promise<CachedCrl> {
    const revoked = await this.certificates.revokedOf(issuer.id);
    const number = await this.certificates.nextCrlNumber(issuer.id, nowMs);
    const thisUpdateMs = Math.floor(nowMs / 1000) * 1000;
    const der = await this.ca.crl(
      issuer,
      revoked.map((r) => ({ serialHex: r.serialHex, revokedAt: new Date(Math.floor(r.revokedAtMs / 1000) * 1000), ...(r.revocationReason && REASONS[r.revocationReason] !== undefined ? { reason: REASONS[r.revocationReason]! } : {}) })),
      number,
      new Date(thisUpdateMs),
      new Date(thisUpdateMs + NEXT_UPDATE_MS),
      issuer.certificate.notBefore,
    );
    return { der: new Uint8Array(der), thisUpdateMs };
  }
}
