/**
 * A signed file checked twice: by the server's public verify endpoint and here in the
 * browser with core's verifier, both against the service's root. The two verdicts are shown
 * side by side; one failing to run does not hide the other. Payment evidence and receipts
 * are checked this way (use-evidence-check.ts, use-receipt-check.ts).
 */
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { loadRootCertificate } from '../api/payments.js';
import { errorMessage, type MessageRef } from './use-message.js';

/** The state of one check: each side's verdict or the reason it could not run. */
export interface TwoVerdicts<S, L> {
  checking: Ref<boolean>;
  /** The server's verdict, or null. */
  server: ShallowRef<S | null>;
  /** This browser's verdict, or null. */
  local: ShallowRef<L | null>;
  serverError: Ref<MessageRef | null>;
  localError: Ref<MessageRef | null>;
  /** Checks the DER of a file; `known` is the server's verdict when it is already at hand (a link's answer). */
  run(der: Uint8Array, known?: S): Promise<void>;
  clear(): void;
}

/** Creates the state of one check with the server's and the browser's verifier. */
export function useTwoVerdicts<S, L>(onServer: (der: Uint8Array) => Promise<S>, here: (der: Uint8Array, root: Uint8Array) => Promise<L>): TwoVerdicts<S, L> {
  const checking = ref(false);
  const server = shallowRef<S | null>(null) as ShallowRef<S | null>;
  const local = shallowRef<L | null>(null) as ShallowRef<L | null>;
  const serverError = ref<MessageRef | null>(null);
  const localError = ref<MessageRef | null>(null);

  function clear(): void {
    server.value = null;
    local.value = null;
    serverError.value = null;
    localError.value = null;
  }

  async function run(der: Uint8Array, known?: S): Promise<void> {
    clear();
    checking.value = true;
    try {
      const [remote, mine] = await Promise.allSettled([known !== undefined ? Promise.resolve(known) : onServer(der), loadRootCertificate().then((root) => here(der, root))]);
      if (remote.status === 'fulfilled') server.value = remote.value;
      else serverError.value = errorMessage(remote.reason);
      if (mine.status === 'fulfilled') local.value = mine.value;
      else localError.value = errorMessage(mine.reason);
    } finally {
      checking.value = false;
    }
  }

  return { checking, server, local, serverError, localError, run, clear };
}
