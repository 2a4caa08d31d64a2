/**
 * Direct payment on this device (docs/protocol.md, "Payment authentication"):
 *
 * 1. the certificate password opens the device key as a non-extractable CryptoKey,
 *    held in memory only, for this one payment and at most two minutes;
 * 2. the payment request REQ is signed with it and sealed to A's key (whose
 *    certificate must chain to our root for issuing commands);
 * 3. A's answer is opened with this payment's reply key, and the command COM is
 *    shown only after A's signature verified against the root and the command
 *    answers exactly this request (what you see is what you sign);
 * 4. the person types the code from the picture (when asked) and confirms; the
 *    authorization (COM, A's JWS, the code's proof) is signed as CMS attributes
 *    with the held key and sent. The key is dropped after the payment, on cancel,
 *    when the command ends, and after two minutes in any case.
 *
 * The protocol steps are exported as plain functions (tested in payment.test.ts);
 * the store strings them together and holds only what the server confirmed.
 */
import { defineStore } from 'pinia';
import { ref, shallowRef, watch } from 'vue';
import { toBase64Url, toHex, type Bytes } from '@coconutpay/core/encoding';
import {
  authorizationContent,
  codeProof,
  REPLY_KEY_BYTES,
  replyKey,
  seal,
  signCanonical,
  unseal,
  verifyCommand,
  type PaymentCommand,
  type PaymentRequest,
} from '@coconutpay/core/payment';
import { signedAttributes } from '@coconutpay/core/pki/cms';
import { derToP1363, p1363ToDer, signP1363 } from '@coconutpay/core/pki/signature';
import { validatePath } from '@coconutpay/core/pki/validate-path';
import { ApiError, serverNowMs } from '../api/client.js';
import {
  getCodePicture,
  renewCode,
  shareCode,
  getPaymentServerKey,
  loadRootCertificate,
  sendAuthorization,
  sendPaymentRequest,
  type AuthorizationBody,
  type IssuedCommand,
  type PaymentReceipt,
  type PaymentServerKey,
} from '../api/payments.js';
import { currentLocale } from '../i18n/index.js';
import { useCertificatesStore } from './certificates.js';
import { useSessionStore } from './session.js';

/** Longest time the opened device key stays in memory. */
export const PAYMENT_KEY_HOLD_MS_MAX = 2 * 60_000;
/** Characters of the verification code. */
export const VERIFICATION_CODE_LENGTH = 6;

/** Names of the `performance.measure` entries a payment leaves behind. */
export const PAYMENT_TIMING = {
  /** The certificate password opening the key (PBKDF2). */
  keyOpen: 'coconutpay:payment-key-open',
  /** REQ built, signed, sealed and sent → COM opened and verified. */
  command: 'coconutpay:payment-command',
  /** The "pay" click → the receipt. */
  authorization: 'coconutpay:payment-authorization',
} as const;

/** Failures on this device, each with its own translated text. */
export type PaymentFlowErrorCode = 'serverKeyInvalid' | 'commandInvalid' | 'commandMismatch' | 'keyDropped';

/** A failure of a payment step on this device (not a refusal by the server). */
export class PaymentFlowError extends Error {
  constructor(readonly code: PaymentFlowErrorCode) {
    super(code);
    this.name = 'PaymentFlowError';
  }
}

/** Standard base64 (x5c), strictly. */
function fromBase64(text: string): Bytes {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new TypeError('not base64');
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function fromHex(hex: string): Bytes {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new TypeError('not hex');
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/**
 * Checks A's published key before anything is sealed to it: A's certificate
 * (x5c[0]) chains to `rootDer` and may issue payment commands now. Returns the
 * ECDH public key to seal to.
 */
export async function importServerKey(key: PaymentServerKey, rootDer: Uint8Array, at: Date): Promise<CryptoKey> {
  let chain: Bytes[];
  try {
    chain = key.x5c.map(fromBase64);
  } catch {
    throw new PaymentFlowError('serverKeyInvalid');
  }
  const leaf = chain[0];
  if (!leaf || chain.length > 4) throw new PaymentFlowError('serverKeyInvalid');
  const verdict = await validatePath({ trustAnchors: [rootDer], intermediates: chain.slice(1), leaf, at, purpose: 'command', revocation: 'none' });
  if (!verdict.valid) throw new PaymentFlowError('serverKeyInvalid');
  const { kty, crv, x, y } = key.agreementKey;
  try {
    return await crypto.subtle.importKey('jwk', { kty, crv, x, y, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
  } catch {
    throw new PaymentFlowError('serverKeyInvalid');
  }
}

/** What {@link buildSealedRequest} needs. */
export interface RequestInput {
  orderId: string;
  payerUserId: string;
  certificateId: string;
  locale: 'ko' | 'en';
  /** The device key (certificate key) that signs REQ. */
  signingKey: CryptoKey;
  /** A's ECDH key from {@link importServerKey}. */
  agreementKey: CryptoKey;
  nowMs: number;
  /** 16 random bytes. */
  nonce: Uint8Array;
  /** The QR payment session this device took, when it pays for another screen. */
  qrSessionId?: string;
}

/**
 * REQ signed with the device key and sealed to A, and this payment's reply key: its
 * bytes leave the page only inside REQ; the page keeps a decrypt-only key for A's answer.
 */
export async function buildSealedRequest(input: RequestInput): Promise<{ request: PaymentRequest; sealedRequest: string; replyKey: CryptoKey }> {
  if (input.nonce.length !== 16) throw new RangeError('the nonce must be 16 bytes');
  const reply = await replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)));
  const request: PaymentRequest = {
    v: 1,
    type: 'coconutpay-payment-request',
    orderId: input.orderId,
    payerUserId: input.payerUserId,
    certificateId: input.certificateId,
    nonce: toBase64Url(input.nonce),
    issuedAtMs: input.nowMs,
    locale: input.locale,
    replyKey: reply.jwk,
    ...(input.qrSessionId === undefined ? {} : { qrSessionId: input.qrSessionId }),
  };
  const signature = await signCanonical(input.signingKey, request);
  const sealedRequest = await seal({ request, signature }, input.agreementKey, 'coconutpay-payment-request');
  return { request, sealedRequest, replyKey: reply.key };
}

/**
 * Opens A's answer and decides whether it may be shown: A's JWS verifies with a
 * certificate that chains to `rootDer` (purpose: command), the payload is
 * canonical, and the command answers exactly `request` — same order, payer,
 * certificate, nonce and language, this COM id, the amount equal to its lines,
 * still live at `at`. Anything else is refused before the page shows a word of it.
 */
export async function openCommand(input: { issued: IssuedCommand; replyKey: CryptoKey; rootDer: Uint8Array; request: PaymentRequest; at: Date }): Promise<{ command: PaymentCommand; jws: string }> {
  let jws: string;
  try {
    const opened = await unseal<{ jws?: unknown }>(input.issued.sealedCommand, input.replyKey, 'coconutpay-payment-command');
    if (typeof opened?.jws !== 'string') throw new TypeError('no JWS');
    jws = opened.jws;
  } catch {
    throw new PaymentFlowError('commandInvalid');
  }
  const check = await verifyCommand(jws, [input.rootDer], input.at);
  if (!check.ok) throw new PaymentFlowError('commandInvalid');
  const command = check.command;
  const { request, issued } = input;
  const linesWon = Array.isArray(command.items) ? command.items.reduce((sum, item) => sum + item.lineTotalWon, 0) : Number.NaN;
  const answersRequest =
    command.comId === issued.comId &&
    command.orderId === request.orderId &&
    command.payer?.userId === request.payerUserId &&
    command.certificateId === request.certificateId &&
    command.requestNonce === request.nonce &&
    command.locale === request.locale &&
    command.currency === 'KRW' &&
    command.verification?.codeRequired === issued.codeRequired &&
    Number.isSafeInteger(command.amountWon) &&
    command.amountWon > 0 &&
    command.amountWon === linesWon &&
    command.expiresAtMs > input.at.getTime() &&
    // A QR payment's command names the very session this device took, with the code the PC shows; a direct one names none.
    (request.qrSessionId === undefined
      ? command.channel === undefined
      : command.channel?.kind === 'qr' && command.channel.qrSessionId === request.qrSessionId && /^[0-9A-Z]{4}$/.test(command.channel.confirmationCode));
  if (!answersRequest) throw new PaymentFlowError('commandMismatch');
  return { command, jws };
}

/**
 * The device's authorization of a command, as the CMS parts A assembles into
 * evidence: content = canonical {COM, A's JWS, code proof}; signed attributes
 * with `signingTime`; the ECDSA signature over them, DER.
 */
export async function signAuthorization(input: {
  comId: string;
  command: PaymentCommand;
  jws: string;
  code: string | null;
  signingKey: CryptoKey;
  /** The DER certificate of `signingKey`, named in the signed attributes. */
  signingCertificate: Uint8Array;
  signingTime: Date;
}): Promise<AuthorizationBody> {
  const content = authorizationContent({
    v: 1,
    type: 'coconutpay-payment-authorization',
    command: input.command,
    commandJws: input.jws,
    codeProof: input.code ? await codeProof(input.code, input.comId) : null,
  });
  const attributes = await signedAttributes(content, input.signingTime, input.signingCertificate);
  const signature = await signP1363(input.signingKey, attributes);
  return { comId: input.comId, content: toBase64Url(content), signedAttributes: toBase64Url(attributes), signature: toBase64Url(p1363ToDer(signature)) };
}

/** What the code field keeps of typed text: letters and digits, upper case, at most six. */
export function normalizeCode(text: string): string {
  return text
    .toUpperCase()
    .replace(/[^0-9A-Z]/g, '')
    .slice(0, VERIFICATION_CODE_LENGTH);
}

/** True for a complete code. */
export function isCompleteCode(code: string): boolean {
  return new RegExp(`^[0-9A-Z]{${VERIFICATION_CODE_LENGTH}}$`).test(code);
}

/** Tries left before the lock, from a PAYMENT_AUTHORIZATION_FAILED refusal; null when it does not say. */
export function triesLeft(error: unknown): number | null {
  if (!(error instanceof ApiError) || error.code !== 'PAYMENT_AUTHORIZATION_FAILED') return null;
  const match = /^(\d+) (?:tries|try) left/.exec(error.detail ?? '');
  return match ? Number(match[1]) : null;
}

/**
 * The signature as the screens show it: r‖s in hex (64 bytes for P-256), the same
 * value the evidence verdict reports. A value that is not DER is shown as it is.
 */
export function signatureDisplayHex(derHex: string): string {
  try {
    return toHex(derToP1363(fromHex(derHex)));
  } catch {
    return derHex.toLowerCase();
  }
}

function timed<T>(name: string, action: () => Promise<T>): Promise<T> {
  const start = `${name}:start`;
  performance.mark(start);
  return action().finally(() => {
    performance.measure(name, start);
    performance.clearMarks(start);
  });
}

/** Where the payment dialog stands. */
export type PaymentStep = 'idle' | 'opening' | 'requesting' | 'verifying' | 'confirm' | 'signing' | 'authorizing' | 'paid' | 'ended';

/** Server refusals after which the same command may be signed again (a mistyped code, a network failure). */
const RETRYABLE_CODES = new Set(['PAYMENT_AUTHORIZATION_FAILED', 'NETWORK_ERROR', 'IDEMPOTENCY_REQUEST_IN_PROGRESS']);

interface HeldKey {
  key: CryptoKey;
  certificateDer: Uint8Array;
  timer: ReturnType<typeof setTimeout>;
  /** When the key is dropped at the latest. */
  deadlineMs: number;
  comId: string | null;
  jws: string | null;
}

/** The payment store. */
export const usePaymentStore = defineStore('payment', () => {
  const step = ref<PaymentStep>('idle');
  /** The order being paid. */
  const orderId = ref<string | null>(null);
  /** The verified command on screen; null until it passed {@link openCommand}. */
  const command = shallowRef<PaymentCommand | null>(null);
  const codeRequired = ref(false);
  /** Object URL of the code picture. */
  const codePictureUrl = ref<string | null>(null);
  const codePictureFailed = ref(false);
  /** The code's tries left after a new code was asked for (each costs one); null before. */
  const codeTriesLeft = ref<number | null>(null);
  /** The last payment's receipt, as the server answered. */
  const receipt = ref<PaymentReceipt | null>(null);
  /** Why the payment ended without paying (the key was dropped), for the dialog to say. */
  const endedReason = ref<'expired' | null>(null);

  const session = useSessionStore();
  const certificates = useCertificatesStore();

  // Deliberately neither reactive nor returned: the opened key lives only in this closure.
  let held: HeldKey | null = null;
  // Bumped by every start and cancel, so that a flow still in flight cannot revive a cancelled payment.
  let generation = 0;

  function dropKey(): void {
    if (!held) return;
    clearTimeout(held.timer);
    held = null;
  }

  function releasePicture(): void {
    if (codePictureUrl.value) URL.revokeObjectURL(codePictureUrl.value);
    codePictureUrl.value = null;
    codePictureFailed.value = false;
  }

  function holdKey(opened: { key: CryptoKey; certificateDer: Uint8Array }): void {
    dropKey();
    const deadlineMs = Date.now() + PAYMENT_KEY_HOLD_MS_MAX;
    held = { key: opened.key, certificateDer: opened.certificateDer, deadlineMs, comId: null, jws: null, timer: setTimeout(keyExpired, PAYMENT_KEY_HOLD_MS_MAX) };
  }

  /** Shortens the hold to the command's end when that comes first. */
  function holdUntil(untilMs: number): void {
    if (!held) return;
    const endMs = Math.min(held.deadlineMs, untilMs);
    clearTimeout(held.timer);
    held.deadlineMs = endMs;
    held.timer = setTimeout(keyExpired, Math.max(0, endMs - Date.now()));
  }

  function keyExpired(): void {
    dropKey();
    if (step.value === 'confirm' || step.value === 'signing') {
      endedReason.value = 'expired';
      step.value = 'ended';
    }
  }

  async function loadPicture(comId: string, run: number): Promise<void> {
    codePictureFailed.value = false;
    try {
      const picture = await getCodePicture(comId);
      if (run !== generation) return;
      releasePicture();
      codePictureUrl.value = URL.createObjectURL(picture);
    } catch {
      if (run === generation) codePictureFailed.value = true;
    }
  }

  /**
   * Opens the key with the certificate password, sends the signed request and
   * opens the command. Resolves when the command is on screen (step `confirm`);
   * on failure the key is dropped, the step goes back to `idle` and the error is
   * thrown for the dialog to show.
   */
  async function start(input: { orderId: string; certificateId: string; password: string; qrSessionId?: string }): Promise<void> {
    cancel();
    const run = generation;
    const user = session.user;
    if (!user) throw new ApiError({ status: 401, code: 'AUTH_REQUIRED', title: 'Log in to continue' });
    orderId.value = input.orderId;
    receipt.value = null;
    step.value = 'opening';
    try {
      const [deviceKey, rootDer, serverKey] = await Promise.all([
        timed(PAYMENT_TIMING.keyOpen, () => certificates.openSigningKey(input.certificateId, input.password)),
        loadRootCertificate(),
        getPaymentServerKey(),
      ]);
      if (run !== generation) return;
      holdKey(deviceKey);
      const key = deviceKey.key;
      step.value = 'requesting';
      const opened = await timed(PAYMENT_TIMING.command, async () => {
        const agreementKey = await importServerKey(serverKey, rootDer, new Date(serverNowMs()));
        const built = await buildSealedRequest({
          orderId: input.orderId,
          payerUserId: user.id,
          certificateId: input.certificateId,
          locale: currentLocale(),
          signingKey: key,
          agreementKey,
          nowMs: serverNowMs(),
          nonce: crypto.getRandomValues(new Uint8Array(16)),
          ...(input.qrSessionId === undefined ? {} : { qrSessionId: input.qrSessionId }),
        });
        const issued = await sendPaymentRequest(built.sealedRequest, built.request.locale);
        if (run === generation) step.value = 'verifying';
        const result = await openCommand({ issued, replyKey: built.replyKey, rootDer, request: built.request, at: new Date(serverNowMs()) });
        return { ...result, issued };
      });
      if (run !== generation || !held) return;
      held.comId = opened.issued.comId;
      held.jws = opened.jws;
      holdUntil(opened.command.expiresAtMs - (serverNowMs() - Date.now()));
      command.value = opened.command;
      codeRequired.value = opened.issued.codeRequired;
      step.value = 'confirm';
      if (opened.issued.codeRequired) await loadPicture(opened.issued.comId, run);
    } catch (error) {
      if (run === generation) {
        dropKey();
        step.value = 'idle';
      }
      throw error;
    }
  }

  /** Fetches the code picture again (after it failed to load). */
  async function reloadPicture(): Promise<void> {
    if (held?.comId && codeRequired.value) await loadPicture(held.comId, generation);
  }

  /**
   * A new code for the command on screen, because the picture could not be read; with
   * `toOtherDevices` it also goes as text to this account's other devices that have the
   * payment-code page open. Either way it costs one of the code's tries (the server
   * counts it), and the picture here shows the new code.
   */
  async function newCode(toOtherDevices: boolean): Promise<number> {
    const comId = held?.comId;
    if (!comId || !codeRequired.value) throw new PaymentFlowError('keyDropped');
    const run = generation;
    const renewal = toOtherDevices ? await shareCode(comId) : await renewCode(comId);
    if (run !== generation) return renewal.triesLeft;
    codeTriesLeft.value = renewal.triesLeft;
    await loadPicture(comId, run);
    return renewal.triesLeft;
  }

  /**
   * Signs the command on screen with the held key (and the typed code) and sends
   * it. On success the key is dropped and the receipt kept. After a refusal that
   * allows another try with the same command (a mistyped code) the key stays
   * until the command ends; after any other the payment is over.
   */
  async function authorize(code: string | null): Promise<PaymentReceipt> {
    const current = held;
    const shown = command.value;
    if (step.value !== 'confirm' || !current?.comId || !current.jws || !shown) throw new PaymentFlowError('keyDropped');
    const run = generation;
    step.value = 'signing';
    try {
      const result = await timed(PAYMENT_TIMING.authorization, async () => {
        const body = await signAuthorization({
          comId: current.comId!,
          command: shown,
          jws: current.jws!,
          code: codeRequired.value ? code : null,
          signingKey: current.key,
          signingCertificate: current.certificateDer,
          signingTime: new Date(serverNowMs()),
        });
        if (run === generation) step.value = 'authorizing';
        return sendAuthorization(body);
      });
      if (run === generation) {
        dropKey();
        releasePicture();
        receipt.value = result;
        step.value = 'paid';
      }
      return result;
    } catch (error) {
      if (run === generation) {
        if (error instanceof ApiError && RETRYABLE_CODES.has(error.code) && held) {
          step.value = 'confirm';
        } else {
          dropKey();
          releasePicture();
          step.value = 'ended';
        }
      }
      throw error;
    }
  }

  /** Ends the payment here: drops the key and forgets the command (the receipt stays). */
  function cancel(): void {
    generation += 1;
    dropKey();
    releasePicture();
    step.value = 'idle';
    command.value = null;
    codeRequired.value = false;
    codeTriesLeft.value = null;
    endedReason.value = null;
    orderId.value = null;
  }

  /** Forgets everything, the receipt included (another account may be next). */
  function reset(): void {
    cancel();
    receipt.value = null;
  }

  // Another account (or none) after a logout: nothing of this payment carries over.
  watch(
    () => session.user?.id,
    () => reset(),
  );

  return { step, orderId, command, codeRequired, codePictureUrl, codePictureFailed, codeTriesLeft, receipt, endedReason, start, reloadPicture, newCode, authorize, cancel, reset };
});
