/**
 * Checking payment evidence without us: the CMS signature, the signer's chain at
 * the signing time, the device's master approval when the signer is an additional
 * certificate, A's signature on the payment command inside, and that the signed
 * authorization is about exactly that command. Used by the CLI, the public verify
 * page and the server alike.
 */
import { toHex } from '../encoding/index.js';
import { checkMasterApproval } from '../pki/master-approval.js';
import { EXTENSION } from '../pki/oids.js';
import { checkSignedDataSignature, parseSignedData } from '../pki/cms.js';
import { formatDistinguishedName } from '../pki/path-names.js';
import { parseCertificate } from '../pki/path-certificate.js';
import { derToP1363 } from '../pki/signature.js';
import { validatePath } from '../pki/validate-path.js';
import { verifyCommand, type PaymentAuthorization } from './index.js';

export interface EvidenceReason {
  code: string;
  message: string;
}

export interface EvidenceVerdict {
  valid: boolean;
  reasons: EvidenceReason[];
  signer: { subject: string; serialHex: string; kind: 'master' | 'additional' | 'unknown' } | null;
  signingTime: string | null;
  payment: {
    orderNumber: string;
    amountWon: number;
    currency: string;
    payee: { storeName: string; businessNumber: string };
    payer: { loginId: string; name: string };
    items: { name: string; quantity: number; lineTotalWon: number }[];
    issuedAt: string;
  } | null;
  /** The device's ECDSA signature (r‖s) in hex, as seed 000's screens show it. */
  signatureHex: string | null;
}

function kindOf(der: Uint8Array): 'master' | 'additional' | 'unknown' {
  const extension = parseCertificate(der).extensions.find((e) => e.oid === EXTENSION.certificateKind);
  if (!extension) return 'unknown';
  const text = new TextDecoder().decode(extension.value.subarray(2));
  return text === 'master' || text === 'additional' ? text : 'unknown';
}

/**
 * Verifies evidence against `trustAnchors` (our root). Never throws for bad input:
 * everything wrong becomes a reason.
 */
export async function verifyEvidence(der: Uint8Array, trustAnchors: Uint8Array[]): Promise<EvidenceVerdict> {
  const verdict: EvidenceVerdict = { valid: false, reasons: [], signer: null, signingTime: null, payment: null, signatureHex: null };
  const fail = (code: string, message: string): EvidenceVerdict => {
    verdict.reasons.push({ code, message });
    return verdict;
  };
  let parsed;
  try {
    parsed = parseSignedData(der);
  } catch (error) {
    return fail('EVIDENCE_INVALID', error instanceof Error ? error.message : 'unreadable');
  }
  verdict.signingTime = new Date(parsed.signingTimeSeconds * 1000).toISOString();
  try {
    verdict.signatureHex = toHex(derToP1363(parsed.signatureDer));
  } catch {
    verdict.signatureHex = toHex(parsed.signatureDer);
  }
  const signature = await checkSignedDataSignature(parsed);
  if (!signature.ok) return fail('SIGNATURE_INVALID', signature.reason);
  const signer = parseCertificate(signature.signerCertificate);
  const kind = kindOf(signature.signerCertificate);
  verdict.signer = { subject: formatDistinguishedName(signer.subject), serialHex: toHex(signer.serial), kind };

  const others = parsed.certificates.filter((c) => c !== signature.signerCertificate);
  const at = new Date(parsed.signingTimeSeconds * 1000);
  const path = await validatePath({ trustAnchors, intermediates: others, leaf: signature.signerCertificate, at, purpose: 'payment', revocation: 'none' });
  for (const r of path.reasons) verdict.reasons.push({ code: r.code, message: r.message });

  if (kind === 'additional') {
    const approvalOf = signer.extensions.find((e) => e.oid === EXTENSION.masterApproval);
    let masterFound = false;
    if (approvalOf) {
      for (const candidate of others) {
        if ((await checkMasterApproval(signature.signerCertificate, candidate)) === undefined) {
          masterFound = true;
          break;
        }
      }
    }
    if (!masterFound) verdict.reasons.push({ code: 'MASTER_APPROVAL_INVALID', message: 'no master certificate in the file approved this device' });
  }

  let authorization: PaymentAuthorization;
  try {
    authorization = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(parsed.content)) as PaymentAuthorization;
  } catch {
    return fail('EVIDENCE_INVALID', 'the signed content is not a payment authorization');
  }
  if (authorization?.type !== 'coconutpay-payment-authorization' || typeof authorization.commandJws !== 'string') return fail('EVIDENCE_INVALID', 'the signed content is not a payment authorization');
  const command = await verifyCommand(authorization.commandJws, trustAnchors, new Date(authorization.command?.issuedAtMs ?? 0));
  if (!command.ok) {
    for (const r of command.reasons) verdict.reasons.push({ code: r.code, message: `payment command: ${r.message}` });
  } else if (JSON.stringify(command.command) !== JSON.stringify(authorization.command)) {
    verdict.reasons.push({ code: 'COMMAND_SIGNATURE_INVALID', message: 'the signed command differs from the one the server signed' });
  }
  const c = authorization.command;
  verdict.payment = {
    orderNumber: c.orderNumber, amountWon: c.amountWon, currency: c.currency, payee: { storeName: c.payee.storeName, businessNumber: c.payee.businessNumber },
    payer: { loginId: c.payer.loginId, name: c.payer.name }, items: c.items.map((i) => ({ name: i.name, quantity: i.quantity, lineTotalWon: i.lineTotalWon })),
    issuedAt: new Date(c.issuedAtMs).toISOString(),
  };
  verdict.valid = verdict.reasons.length === 0;
  return verdict;
}
