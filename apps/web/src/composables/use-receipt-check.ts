/**
 * Checking a receipt twice, as for payment evidence: by the server's public verify
 * endpoint (which adds the status now and its records) and here in the browser with
 * core's verifier against the service's root. One failing to run does not hide the other.
 */
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { verifyReceipt, type ReceiptVerdict } from '@coconutpay/core/receipt';
import { loadRootCertificate } from '../api/payments.js';
import { verifyReceiptOnServer, type ServerReceiptVerdict } from '../api/receipts.js';
import { bytesToBase64 } from './use-evidence-check.js';
import { errorMessage, type MessageRef } from './use-message.js';

/** What {@link useReceiptCheck} returns. */
export interface ReceiptCheck {
  checking: Ref<boolean>;
  server: ShallowRef<ServerReceiptVerdict | null>;
  local: ShallowRef<ReceiptVerdict | null>;
  serverError: Ref<MessageRef | null>;
  localError: Ref<MessageRef | null>;
  /** Checks the DER of a receipt file; `server` may be given already (a link's answer). */
  run(der: Uint8Array, server?: ServerReceiptVerdict): Promise<void>;
  clear(): void;
}

/** Creates the state of one receipt check. */
export function useReceiptCheck(): ReceiptCheck {
  const checking = ref(false);
  const server = shallowRef<ServerReceiptVerdict | null>(null);
  const local = shallowRef<ReceiptVerdict | null>(null);
  const serverError = ref<MessageRef | null>(null);
  const localError = ref<MessageRef | null>(null);

  function clear(): void {
    server.value = null;
    local.value = null;
    serverError.value = null;
    localError.value = null;
  }

  async function run(der: Uint8Array, known?: ServerReceiptVerdict): Promise<void> {
    clear();
    checking.value = true;
    try {
      const [remote, here] = await Promise.allSettled([
        known ? Promise.resolve(known) : verifyReceiptOnServer(bytesToBase64(der)),
        loadRootCertificate().then((root) => verifyReceipt(der, [root])),
      ]);
      if (remote.status === 'fulfilled') server.value = remote.value;
      else serverError.value = errorMessage(remote.reason);
      if (here.status === 'fulfilled') local.value = here.value;
      else localError.value = errorMessage(here.reason);
    } finally {
      checking.value = false;
    }
  }

  return { checking, server, local, serverError, localError, run, clear };
}
