/**
 * Checking a receipt twice, as for payment evidence: by the server's public verify
 * endpoint (which adds its records) and here in the browser with
 * core's verifier against the service's root and its current CRLs (each certificate's status
 * now). One failing to run does not hide the other.
 */
import { verifyReceipt, type ReceiptVerdict } from '@coconutpay/core/receipt';
import { verifyReceiptOnServer, type ServerReceiptVerdict } from '../api/receipts.js';
import { bytesToBase64 } from './use-evidence-check.js';
import { statusNowOptions, useTwoVerdicts, type TwoVerdicts } from './use-two-verdicts.js';

/** What {@link useReceiptCheck} returns. */
export type ReceiptCheck = TwoVerdicts<ServerReceiptVerdict, ReceiptVerdict>;

/** Creates the state of one receipt check. */
export function useReceiptCheck(): ReceiptCheck {
  return useTwoVerdicts((der) => verifyReceiptOnServer(bytesToBase64(der)), (der, anchors) => verifyReceipt(der, [anchors.root], statusNowOptions(anchors)));
}
