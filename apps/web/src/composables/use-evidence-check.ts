/**
 * Checking a payment evidence file twice: by the server's public verify endpoint
 * and here in the browser with core's verifier, both against the service's root
 * (the browser's with the CAs' current CRLs, for the signer's status now). The two
 * verdicts are shown side by side; one failing to run does not hide the other.
 */
import { verifyEvidence, type EvidenceVerdict } from '@coconutpay/core/payment/evidence';
import { CMS_LENGTH_MAX } from '@coconutpay/core/pki/cms';
import { verifyEvidenceOnServer } from '../api/payments.js';
import { statusNowOptions, useTwoVerdicts, type TwoVerdicts } from './use-two-verdicts.js';

/** Standard base64 of bytes, in chunks (a file can be a megabyte). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

/** What {@link useEvidenceCheck} returns. */
export type EvidenceCheck = TwoVerdicts<EvidenceVerdict, EvidenceVerdict>;

/** The largest evidence file checked (core's CMS bound). */
export const EVIDENCE_BYTES_MAX = CMS_LENGTH_MAX;

/**
 * Creates the state of one evidence check.
 *
 * @example
 * const check = useEvidenceCheck();
 * await check.run(new Uint8Array(await file.arrayBuffer()));
 */
export function useEvidenceCheck(): EvidenceCheck {
  return useTwoVerdicts((der) => verifyEvidenceOnServer(bytesToBase64(der)), (der, anchors) => verifyEvidence(der, [anchors.root], statusNowOptions(anchors)));
}
