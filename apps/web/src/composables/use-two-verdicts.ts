/**
 * A signed file checked twice: by the server's public verify endpoint and here in the
 * browser with core's verifier, both against the service's root. The two verdicts are shown
 * side by side; one failing to run does not hide the other. Payment evidence and receipts
 * are checked this way (use-evidence-check.ts, use-receipt-check.ts).
 *
 * The browser's check is given the CAs' current CRLs, fetched for each check, so it too
 * tells whether the signer's certificate is revoked now; they are judged at the server's time
 * when it sent them, so a browser clock a little off does not make them "not yet valid". When
 * they cannot be fetched it runs without them and says the status now was not checked (both
 * verdict components show that), rather than not running at all.
 */
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import type { Bytes } from '@coconutpay/core/encoding';
import { loadCurrentCrls, loadRootCertificate } from '../api/payments.js';
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

/** What the browser's check is given beside the file: the root, and the current CRLs when they could be fetched. */
export interface LocalAnchors {
  root: Bytes;
  currentCrls: Bytes[] | undefined;
  /** When the CRLs are judged: the server's time when it sent them, or this browser's when it sent none (loadCurrentCrls). */
  crlTime: Date;
}

/** Core's verifier options for `anchors`: the status now needs the CRLs and the time they are judged at. */
export function statusNowOptions(anchors: LocalAnchors): { currentCrls?: Bytes[]; now?: Date } {
  return anchors.currentCrls ? { currentCrls: anchors.currentCrls, now: anchors.crlTime } : {};
}

async function localAnchors(): Promise<LocalAnchors> {
  const [root, current] = await Promise.all([loadRootCertificate(), loadCurrentCrls().then((c) => c, () => undefined)]);
  return { root, currentCrls: current?.crls, crlTime: new Date(current?.serverTimeMs ?? Date.now()) };
}

/** Creates the state of one check with the server's and the browser's verifier. */
export function useTwoVerdicts<S, L>(onServer: (der: Uint8Array) => Promise<S>, here: (der: Uint8Array, anchors: LocalAnchors) => Promise<L>): TwoVerdicts<S, L> {
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
      const [remote, mine] = await Promise.allSettled([known !== undefined ? Promise.resolve(known) : onServer(der), localAnchors().then((anchors) => here(der, anchors))]);
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
