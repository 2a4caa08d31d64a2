/**
 * Checking a receipt twice, as for payment evidence: by the server's public verify
 * endpoint (which adds the status now and its records) and here in the browser with
 * core's verifier against the service's root. One failing to run does not hide the other.
 */
import { verifyReceipt, type ReceiptVerdict } from '@coconutpay/core/receipt';
import { verifyReceiptOnServer, type ServerReceiptVerdict } from '../api/receipts.js';
import { bytesToBase64 } from './use-evidence-check.js';
import { useTwoVerdicts, type TwoVerdicts } from './use-two-verdicts.js';

/** What {@link useReceiptCheck} returns. */
export type ReceiptCheck = TwoVerdicts<ServerReceiptVerdict, ReceiptVerdict>;

/** Creates the state of one receipt check. */
export function useReceiptCheck(): ReceiptCheck {
  return useTwoVerdicts((der) => verifyReceiptOnServer(bytesToBase64(der)), (der, root) => verifyReceipt(der, [root]));
}
