/**
 * Seller-signed receipts (docs/receipts.md). The server builds the receipt's content
 * from its records — the store profile now, the order's lines and total, its sale time,
 * the receipt's number and the digest of the buyer's payment evidence — and the seller's
 * browser signs exactly those bytes as CMS SignedData with the seller's certificate.
 * Before storing, the server checks the content byte for byte against its records, the
 * signature, the certificate (the one gate, device-certificates.ts, for the `receipt`
 * purpose) and that the signer is the order's seller; then makes the file long-term like
 * payment evidence: the chain with its root, the current CRLs and our time-stamp.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import { toHex } from '@coconutpay/core/encoding';
import { assembleSignedData, checkSignedDataSignature, DerError, OID_CMS, parseSignedData, type ParsedSignedData } from '@coconutpay/core/pki/cms';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { derToP1363 } from '@coconutpay/core/pki/signature';
import {
  readReceiptContent, receiptContentBytes, receiptNumberOf, verifyReceipt, withReceiptCheck,
  type ReceiptContent, type ReceiptVerdict,
} from '@coconutpay/core/receipt';
import type { DatabaseEngine } from '../config.js';
import type { CertificatesRepository } from '../db/certificates-repository.js';
import { isUniqueViolation } from '../db/database.js';
import type { OrderRecord, OrdersRepository } from '../db/orders-repository.js';
import type { ReceiptRecord, ReceiptsRepository } from '../db/receipts-repository.js';
import type { Database } from '../db/schema.js';
import { timeOrderedId } from '../db/time-ordered-id.js';
import type { UsersRepository } from '../db/users-repository.js';
import { runWriteTransaction } from '../db/write-transaction.js';
import type { AuditSink } from './audit-log.js';
import { requireRole, type Actor } from './actor.js';
import type { DeviceCertificatesService } from './device-certificates.js';
import type { EventHub } from './event-hub.js';
import type { CertificateAuthority } from './pki/certificate-authority.js';

/** How far the signing time in the seller's CMS attributes may be from our clock. */
export const RECEIPT_SIGNING_TIME_SKEW_MS = 5 * 60_000;
/** Most receipts one order may have (the first and its re-issues). */
export const RECEIPTS_PER_ORDER_MAX = 999;

/** What the buyer's open order page hears when a receipt is issued. */
export interface ReceiptIssuedEvent {
  orderId: string;
  receiptNumber: string;
}

/** A receipt as the order pages show it. */
export interface ReceiptView extends ReceiptRecord {
  content: ReceiptContent;
}

export class ReceiptsService {
  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      engine: DatabaseEngine;
      receipts: ReceiptsRepository;
      orders: OrdersRepository;
      users: UsersRepository;
      certificates: CertificatesRepository;
      devices: DeviceCertificatesService;
      ca: CertificateAuthority;
      /** The current CRLs of the issuing CA and the root. */
      revocationData: () => Promise<Uint8Array[]>;
      /** Our TSA: an RFC 3161 token over a signature value. */
      timeStamps: { stampSignature(signatureValue: Uint8Array): Promise<Uint8Array> };
      clock: () => number;
      /** Tells the buyer's open order page (key: the buyer's user id). */
      events?: EventHub<ReceiptIssuedEvent>;
      /** Issued receipts are recorded in the audit log, in the issuing transaction. */
      audit: AuditSink;
    },
  ) {}

  /** The seller's own paid order, or the refusal a seller gets for anything else. */
  private async sellersPaidOrder(actor: Actor, orderId: string): Promise<OrderRecord> {
    requireRole(actor, 'seller');
    const order = await this.deps.orders.findById(orderId);
    // Another store's order is not told apart from no order at all.
    if (!order || order.sellerId !== actor.userId) throw new AppError('ORDER_NOT_FOUND');
    if (order.status !== 'paid' || order.paidAtMs === null) throw new AppError('RECEIPT_ORDER_NOT_PAID');
    return order;
  }

  /**
   * The content the next receipt of `order` must have, from our records now. A first
   * receipt when the order has none; with `reissue`, the next number replacing the current one.
   */
  private async expectedContent(order: OrderRecord, reissue: boolean): Promise<{ content: ReceiptContent; replaces: ReceiptRecord | null; sequence: number }> {
    const existing = await this.deps.receipts.ofOrder(order.id);
    const current = existing.find((r) => r.supersededAtMs === null) ?? null;
    if (current && !reissue) throw new AppError('RECEIPT_ALREADY_ISSUED');
    if (!current && reissue) throw new AppError('RECEIPT_NOT_FOUND', { detail: 'There is no receipt to re-issue yet.' });
    const sequence = (existing[0]?.sequence ?? 0) + 1;
    if (sequence > RECEIPTS_PER_ORDER_MAX) throw new AppError('RECEIPT_ALREADY_ISSUED', { detail: `An order may have at most ${RECEIPTS_PER_ORDER_MAX} receipts.` });
    const seller = await this.deps.users.findById(order.sellerId);
    if (!seller?.store) throw new Error(`seller ${order.sellerId} has no store`);
    const evidence = await this.deps.receipts.paymentEvidenceOf(order.id);
    if (!evidence) throw new AppError('EVIDENCE_NOT_FOUND');
    const store = seller.store;
    const content: ReceiptContent = {
      v: 1,
      type: 'coconutpay-receipt',
      receiptNumber: receiptNumberOf(order.orderNumber, sequence),
      replaces: current?.receiptNumber ?? null,
      orderNumber: order.orderNumber,
      soldAtMs: order.paidAtMs!,
      store: {
        sellerId: seller.id, storeName: store.storeName, businessNumber: store.businessNumber, address: store.storeAddress,
        representative: store.representative, phone: store.storePhone,
      },
      lines: order.items.map((i) => ({ name: i.productName, unitPriceWon: Number(i.unitPriceWon), quantity: i.quantity, amountWon: Number(i.lineTotalWon) })),
      totalWon: Number(order.totalWon),
      currency: 'KRW',
      paymentEvidenceSha256: createHash('sha256').update(Buffer.from(evidence, 'base64')).digest('hex'),
    };
    return { content, replaces: current, sequence };
  }

  /** The exact content the seller is to sign for an order's (first, or re-issued) receipt. */
  async draft(actor: Actor, orderId: string, reissue: boolean): Promise<ReceiptContent> {
    const order = await this.sellersPaidOrder(actor, orderId);
    return (await this.expectedContent(order, reissue)).content;
  }

  /**
   * Stores a receipt the seller signed. Refusals, in the order checked: not the seller's
   * order (ORDER_NOT_FOUND), unpaid (RECEIPT_ORDER_NOT_PAID), not a CMS of our shape
   * (RECEIPT_INVALID), a first receipt for an order that has one (RECEIPT_ALREADY_ISSUED),
   * a signer certificate that is not the seller's own (RECEIPT_SIGNER_NOT_SELLER), one the
   * gate refuses (CERTIFICATE_REVOKED, CERTIFICATE_EXPIRED, …), content other than our
   * records' (RECEIPT_CONTENT_MISMATCH), a signature that does not verify
   * (SIGNATURE_INVALID), a signing time far from ours (RECEIPT_SIGNING_TIME_INVALID).
   */
  async issue(actor: Actor, orderId: string, signedDer: Uint8Array): Promise<ReceiptView> {
    const nowMs = this.deps.clock();
    const order = await this.sellersPaidOrder(actor, orderId);
    let parsed: ParsedSignedData;
    try {
      parsed = parseSignedData(signedDer);
    } catch (cause) {
      if (cause instanceof DerError) throw new AppError('RECEIPT_INVALID', { cause });
      throw cause;
    }
    const presented = readReceiptContent(parsed.content);
    if (!presented) throw new AppError('RECEIPT_INVALID', { detail: 'The signed content is not a receipt.' });
    const { content, replaces, sequence } = await this.expectedContent(order, presented.replaces !== null);

    // The signer: a certificate we issued, to this seller, passing the gate for receipts.
    const signerDer = parsed.certificates.find((c) => {
      try {
        const certificate = parseCertificate(c);
        return Buffer.from(certificate.issuer.der).equals(Buffer.from(parsed.signer.issuerDer)) && toHex(certificate.serial) === toHex(parsed.signer.serial);
      } catch {
        return false;
      }
    });
    if (!signerDer) throw new AppError('RECEIPT_INVALID', { detail: 'The signer certificate is not in the file.' });
    const serialHex = toHex(parsed.signer.serial).toLowerCase();
    const record = (await this.deps.certificates.findBySerial(this.deps.ca.issuing.id, serialHex))
      ?? (serialHex.startsWith('00') ? await this.deps.certificates.findBySerial(this.deps.ca.issuing.id, serialHex.slice(2)) : undefined);
    if (!record || !Buffer.from(record.derBase64, 'base64').equals(Buffer.from(signerDer))) {
      throw new AppError('RECEIPT_SIGNER_NOT_SELLER', { detail: 'The receipt is not signed with a certificate of this seller.' });
    }
    if (record.userId !== actor.userId) throw new AppError('RECEIPT_SIGNER_NOT_SELLER', { detail: 'The receipt is not signed with a certificate of this seller.' });
    const { certificateDer } = await this.deps.devices.usable(actor, record.id, 'receipt', nowMs);

    if (!Buffer.from(parsed.content).equals(Buffer.from(receiptContentBytes(content)))) throw new AppError('RECEIPT_CONTENT_MISMATCH');
    const signature = await checkSignedDataSignature(parsed);
    if (!signature.ok || !parsed.signingCertificateHash) throw new AppError('SIGNATURE_INVALID');
    const signingTimeMs = parsed.signingTimeSeconds * 1000;
    if (Math.abs(signingTimeMs - nowMs) > RECEIPT_SIGNING_TIME_SKEW_MS) throw new AppError('RECEIPT_SIGNING_TIME_INVALID');

    // Long-term, as payment evidence: the chain with its root, the CRLs current now, and
    // our time-stamp over the signature value, taken after the CRLs were made.
    const [otherCertificates, crls] = await Promise.all([this.chainFor(record.approvedByCertificateId), this.deps.revocationData()]);
    const timeStampToken = await this.deps.timeStamps.stampSignature(parsed.signatureDer);
    const cms = assembleSignedData({
      content: parsed.content, signedAttributesDer: parsed.signedAttributesDer, signatureDer: parsed.signatureDer, signerCertificate: certificateDer,
      otherCertificates, crls, unsignedAttributes: [{ oid: OID_CMS.signatureTimeStampToken, values: [timeStampToken] }],
    });
    const receipt = {
      id: timeOrderedId(nowMs), receiptNumber: content.receiptNumber, orderId: order.id, sequence, sellerId: actor.userId, certificateId: record.id,
      replacesReceiptId: replaces?.id ?? null, linkId: randomBytes(24).toString('base64url'), signatureHex: toHex(signatureP1363Of(parsed)),
      signingTimeMs, createdAtMs: nowMs, cmsBase64: Buffer.from(cms).toString('base64'),
    };
    try {
      await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
        // The certificate may have been revoked since the gate read it.
        const revoked = await this.deps.devices.revokedInChain(trx, record);
        if (revoked) throw new AppError('CERTIFICATE_REVOKED');
        if (!(await this.deps.receipts.insert(trx, receipt))) throw new AppError('RECEIPT_ALREADY_ISSUED', { detail: 'The receipt was re-issued meanwhile.' });
        await this.deps.audit.append('receipt.issued', {
          actor: actor.userId, subject: order.id,
          detail: { receiptNumber: receipt.receiptNumber, certificateId: record.id, replacesReceiptId: receipt.replacesReceiptId, signatureHex: receipt.signatureHex },
        }, trx);
      });
    } catch (error) {
      // The (order, sequence) pair and the number are unique: another tab issued it first.
      if (isUniqueViolation(error)) throw new AppError('RECEIPT_ALREADY_ISSUED');
      throw error;
    }
    this.deps.events?.publish(order.buyerId, { orderId: order.id, receiptNumber: content.receiptNumber });
    return { ...receipt, replacesReceiptNumber: replaces?.receiptNumber ?? null, supersededAtMs: null, content };
  }

  /** The certificates a receipt carries beside the signer's: the master of a device, the issuing CA and the root. */
  private async chainFor(masterId: string | null): Promise<Uint8Array[]> {
    const chain: Uint8Array[] = [];
    if (masterId) {
      const master = await this.deps.devices.certificateDer(masterId);
      if (master) chain.push(master);
    }
    chain.push(new Uint8Array(this.deps.ca.issuing.certificate.rawData), new Uint8Array(this.deps.ca.root.certificate.rawData));
    return chain;
  }

  /** The receipts of an order the actor bought or sold, current first; empty when none was issued. */
  async ofOrder(actor: Actor, orderId: string): Promise<ReceiptView[]> {
    const order = await this.deps.orders.findById(orderId);
    if (!order || (order.buyerId !== actor.userId && order.sellerId !== actor.userId)) throw new AppError('ORDER_NOT_FOUND');
    const views: ReceiptView[] = [];
    for (const record of await this.deps.receipts.ofOrder(orderId)) {
      const file = await this.deps.receipts.fileOf(record.id);
      const content = file ? readReceiptContent(parseSignedData(Buffer.from(file, 'base64')).content) : undefined;
      if (content) views.push({ ...record, content });
    }
    return views;
  }

  /** The current receipt file of an order the actor bought or sold (DER CMS). */
  async file(actor: Actor, orderId: string): Promise<{ der: Buffer; receiptNumber: string }> {
    const order = await this.deps.orders.findById(orderId);
    if (!order || (order.buyerId !== actor.userId && order.sellerId !== actor.userId)) throw new AppError('ORDER_NOT_FOUND');
    const current = (await this.deps.receipts.ofOrder(orderId)).find((r) => r.supersededAtMs === null);
    const file = current ? await this.deps.receipts.fileOf(current.id) : undefined;
    if (!current || !file) throw new AppError('RECEIPT_NOT_FOUND');
    return { der: Buffer.from(file, 'base64'), receiptNumber: current.receiptNumber };
  }

  /**
   * Anyone's check of a receipt file: core's verifier against our root with the current
   * CRLs, then our records — the number must be on record with this very signature.
   * Answers whether a later receipt replaced it (a fact, not a fault of the signature).
   */
  async verifyFile(der: Uint8Array): Promise<ReceiptVerdict & { supersededBy: string | null }> {
    const nowMs = this.deps.clock();
    const verdict = await verifyReceipt(der, [new Uint8Array(this.deps.ca.root.certificate.rawData)], { currentCrls: await this.deps.revocationData(), now: new Date(nowMs) });
    if (!verdict.receipt || verdict.checks.find((c) => c.name === 'signature')?.outcome !== 'passed') return { ...verdict, supersededBy: null };
    const stored = await this.deps.receipts.byNumber(verdict.receipt.receiptNumber);
    if (!stored) return { ...withReceiptCheck(verdict, 'record', { code: 'RECEIPT_NOT_ON_RECORD', message: 'this service holds no receipt with that number' }), supersededBy: null };
    if (stored.signatureHex !== verdict.signatureHex) {
      return { ...withReceiptCheck(verdict, 'record', { code: 'RECEIPT_NOT_ON_RECORD', message: 'another signature is on record under that number' }), supersededBy: null };
    }
    const later = stored.supersededAtMs === null ? null : (await this.deps.receipts.ofOrder(stored.orderId)).find((r) => r.replacesReceiptId === stored.id)?.receiptNumber ?? null;
    return { ...withReceiptCheck(verdict, 'record'), supersededBy: later };
  }

  /** A receipt by its public link: the file and its verdict, for anyone holding the link. */
  async byLink(linkId: string): Promise<{ cmsBase64: string; receiptNumber: string; verdict: ReceiptVerdict & { supersededBy: string | null } }> {
    const record = /^[A-Za-z0-9_-]{32}$/.test(linkId) ? await this.deps.receipts.byLink(linkId) : undefined;
    const file = record ? await this.deps.receipts.fileOf(record.id) : undefined;
    if (!record || !file) throw new AppError('RECEIPT_NOT_FOUND');
    return { cmsBase64: file, receiptNumber: record.receiptNumber, verdict: await this.verifyFile(Buffer.from(file, 'base64')) };
  }
}

/** The signature as r‖s, the receipt signature value the pages show (DER when it is not an ECDSA pair). */
function signatureP1363Of(parsed: ParsedSignedData): Uint8Array {
  try {
    return derToP1363(parsed.signatureDer);
  } catch {
    return parsed.signatureDer;
  }
}
