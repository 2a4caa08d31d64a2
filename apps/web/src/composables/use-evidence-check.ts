/**
 * Checking a payment evidence file twice: by the server's public verify endpoint
 * and here in the browser with core's verifier, both against the service's root.
 * The two verdicts are shown side by side; one failing to run does not hide the
 * other.
 */
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { verifyEvidence, type EvidenceVerdict } from '@coconutpay/core/payment/evidence';
import { CMS_LENGTH_MAX } from '@coconutpay/core/pki/cms';
import { loadRootCertificate, verifyEvidenceOnServer } from '../api/payments.js';
import { errorMessage, type MessageRef } from './use-message.js';

/** Standard base64 of bytes, in chunks (a file can be a megabyte). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

/** What {@link useEvidenceCheck} returns. */
export interface EvidenceCheck {
  checking: Ref<boolean>;
  /** The server's verdict, or null. */
  server: ShallowRef<EvidenceVerdict | null>;
  /** This browser's verdict, or null. */
  local: ShallowRef<EvidenceVerdict | null>;
  serverError: Ref<MessageRef | null>;
  localError: Ref<MessageRef | null>;
  /** Checks the DER of an evidence file. */
  run(der: Uint8Array): Promise<void>;
  clear(): void;
}

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
  const checking = ref(false);
  const server = shallowRef<EvidenceVerdict | null>(null);
  const local = shallowRef<EvidenceVerdict | null>(null);
  const serverError = ref<MessageRef | null>(null);
  const localError = ref<MessageRef | null>(null);

  function clear(): void {
    server.value = null;
    local.value = null;
    serverError.value = null;
    localError.value = null;
  }

  async function run(der: Uint8Array): Promise<void> {
    clear();
    checking.value = true;
    try {
      const [remote, here] = await Promise.allSettled([
        verifyEvidenceOnServer(bytesToBase64(der)),
        loadRootCertificate().then((root) => verifyEvidence(der, [root])),
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
