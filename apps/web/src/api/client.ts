/**
 * The one HTTP client of the web app.
 *
 * Public calls go out as they are. Protected calls carry the dual-token proof:
 * each attempt is signed afresh (new time, new nonce) over the exact bytes sent,
 * so a retry never replays an earlier proof. Failures become {@link ApiError},
 * parsed from the server's RFC 9457 problem documents.
 */
import { isErrorCode, type ErrorCode, type LockInfo } from '@coconutpay/core/errors';
import { utf8, type Bytes } from '@coconutpay/core/encoding';
import { nonceFromBytes, signRequest } from '@coconutpay/core/protocol';
import { clearSession, loadSession } from './token-store.js';

/** A code the client itself uses when no problem document arrived. */
export type ClientErrorCode = 'NETWORK_ERROR' | 'UNEXPECTED_RESPONSE';

/** One invalid field, with the form field path derived from the JSON pointer. */
export interface ApiFieldError {
  /** The pointer as the server sent it, e.g. `/body/store/storeName`. */
  pointer: string;
  /** The field path inside the request body, e.g. `store.storeName`; empty when the pointer is not into the body. */
  field: string;
  /** Why the field was refused, e.g. `pattern`, `required`, `PASSWORD_POLICY_VIOLATED`. */
  code: string;
}

/**
 * A failed API call.
 *
 * @example
 * try { await login(input) } catch (e) { if (e instanceof ApiError && e.code === 'LOGIN_FAILED') … }
 */
export class ApiError extends Error {
  /** HTTP status; 0 when the request never got an answer. */
  readonly status: number;
  /** A registered error code, or a client code when the server sent no problem document. */
  readonly code: ErrorCode | ClientErrorCode;
  /** The problem's English title, used when the web app has no translation for `code`. */
  readonly title: string;
  readonly detail: string | undefined;
  readonly fieldErrors: ApiFieldError[];
  /** What a lock refusal says about the lock: until when, why, whom to contact. */
  readonly lock: LockInfo | undefined;

  constructor(init: { status: number; code: ErrorCode | ClientErrorCode; title: string; detail?: string; fieldErrors?: ApiFieldError[]; lock?: LockInfo }) {
    super(init.detail ?? init.title);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail;
    this.fieldErrors = init.fieldErrors ?? [];
    this.lock = init.lock;
  }
}

/** The problem's `lock` member when it has the documented shape; anything else is ignored. */
function toLock(value: unknown): LockInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<LockInfo>;
  if (!['login-failures', 'address-failures', 'payment-failures'].includes(v.reason as string) || typeof v.untilMs !== 'number' || typeof v.failuresMax !== 'number') return undefined;
  return {
    reason: v.reason!, untilMs: v.untilMs, failuresMax: v.failuresMax, certificatePasses: v.certificatePasses === true,
    ...(typeof v.contact === 'string' ? { contact: v.contact } : {}),
  };
}

/** Codes of a 401 after which the stored session is of no more use. */
export const SESSION_ENDING_CODES: readonly ErrorCode[] = [
  'SESSION_REVOKED',
  'SESSION_EXPIRED',
  'SESSION_IDLE_TIMEOUT',
  'TOKEN_INVALID',
  'TOKEN_KEY_RETIRED',
  'AUTH_REQUIRED',
];

type SessionEndedHandler = (code: ErrorCode) => void;
let sessionEndedHandler: SessionEndedHandler | undefined;

/**
 * Registers what happens when the server ends the session (the app routes to the
 * login page). The stored token is cleared before the handler runs.
 */
export function onSessionEnded(handler: SessionEndedHandler): void {
  sessionEndedHandler = handler;
}

/** Query values; empty strings, null and undefined are left out of the URL. */
export type Query = Record<string, string | number | null | undefined>;

/** Options of one call. */
export interface RequestOptions {
  query?: Query;
  /** A JSON body; serialised once, and those very bytes are both signed and sent. */
  json?: unknown;
  /** A raw body (an image) with its content type. */
  bytes?: { data: Bytes; contentType: string };
  /** Reports upload progress from 0 to 1 (raw bodies only). */
  onUploadProgress?: (fraction: number) => void;
  /**
   * Sent as `Idempotency-Key` (docs/idempotency.md): keep one per intended action,
   * so that resending after a lost answer cannot act twice.
   */
  idempotencyKey?: string;
}

/** Builds `path?query` exactly as it will be sent, which is also what gets signed. */
export function pathWithQuery(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === '') continue;
    params.append(key, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

interface RawResponse {
  status: number;
  contentType: string;
  dateHeader: string | null;
  text: string;
}

async function sendWithFetch(method: string, target: string, headers: Record<string, string>, body: Bytes | undefined): Promise<RawResponse> {
  let response: Response;
  try {
    response = await fetch(target, {
      method,
      headers,
      body: body ?? null,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'The server could not be reached' });
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    dateHeader: response.headers.get('date'),
    text: await response.text(),
  };
}

// fetch cannot report upload progress; XHR can, so raw uploads go through it.
function sendWithXhr(
  method: string,
  target: string,
  headers: Record<string, string>,
  body: Bytes,
  onUploadProgress: (fraction: number) => void,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, target);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onUploadProgress(event.loaded / event.total);
    };
    xhr.onload = () =>
      resolve({
        status: xhr.status,
        contentType: xhr.getResponseHeader('content-type') ?? '',
        dateHeader: xhr.getResponseHeader('date'),
        text: xhr.responseText,
      });
    xhr.onerror = () => reject(new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'The server could not be reached' }));
    xhr.send(body);
  });
}

function toFieldErrors(value: unknown): ApiFieldError[] {
  if (!Array.isArray(value)) return [];
  const out: ApiFieldError[] = [];
  for (const entry of value.slice(0, 100)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { pointer, code } = entry as { pointer?: unknown; code?: unknown };
    if (typeof pointer !== 'string' || typeof code !== 'string') continue;
    // `/body/store/storeName` → `store.storeName`; RFC 6901 escapes are undone per segment.
    const segments = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const field = segments[0] === 'body' ? segments.slice(1).join('.') : '';
    out.push({ pointer, field, code });
  }
  return out;
}

function toApiError(raw: RawResponse): ApiError {
  if (raw.contentType.includes('json')) {
    try {
      const problem = JSON.parse(raw.text) as Record<string, unknown>;
      if (isErrorCode(problem.code)) {
        return new ApiError({
          status: raw.status,
          code: problem.code,
          title: typeof problem.title === 'string' ? problem.title : problem.code,
          ...(typeof problem.detail === 'string' ? { detail: problem.detail } : {}),
          fieldErrors: toFieldErrors(problem.errors),
          ...(toLock(problem.lock) ? { lock: toLock(problem.lock)! } : {}),
        });
      }
      // A code this build does not know yet still carries a title worth showing.
      if (typeof problem.title === 'string') {
        return new ApiError({ status: raw.status, code: 'UNEXPECTED_RESPONSE', title: problem.title, fieldErrors: toFieldErrors(problem.errors) });
      }
    } catch {
      // Fall through to the generic error below.
    }
  }
  return new ApiError({ status: raw.status, code: 'UNEXPECTED_RESPONSE', title: `HTTP ${raw.status}` });
}

function parseBody<T>(raw: RawResponse): T {
  if (raw.status === 204 || raw.text === '') return undefined as T;
  try {
    return JSON.parse(raw.text) as T;
  } catch {
    throw new ApiError({ status: raw.status, code: 'UNEXPECTED_RESPONSE', title: 'The answer was not JSON' });
  }
}

function encodeBody(options: RequestOptions): { body: Bytes | undefined; contentType: string | undefined } {
  if (options.bytes) return { body: options.bytes.data, contentType: options.bytes.contentType };
  if (options.json !== undefined) return { body: utf8(JSON.stringify(options.json)), contentType: 'application/json' };
  return { body: undefined, contentType: undefined };
}

/** Sends a request that needs no login. */
export async function publicRequest<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const target = pathWithQuery(path, options.query);
  const { body, contentType } = encodeBody(options);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (contentType) headers['content-type'] = contentType;
  const raw = await sendWithFetch(method, target, headers, body);
  if (raw.status >= 400) throw toApiError(raw);
  return parseBody<T>(raw);
}

// Difference between the server's clock and ours, learnt from the Date header when
// the server refuses a timestamp; it keeps a device with a wrong clock usable.
let clockOffsetMs = 0;
const ATTEMPTS_MAX = 2;

/**
 * The time by the server's clock as far as this client knows it (the offset is
 * learnt when the server refuses a timestamp). Signed payment messages carry it.
 */
export function serverNowMs(): number {
  return Date.now() + clockOffsetMs;
}

function nextNonce(): string {
  return nonceFromBytes(crypto.getRandomValues(new Uint8Array(16)));
}

async function endSession(code: ErrorCode): Promise<void> {
  await clearSession();
  sessionEndedHandler?.(code);
}

/**
 * Sends a protected request signed with the stored session. A session-ending 401
 * clears the stored token and calls the {@link onSessionEnded} handler.
 */
/**
 * What an authenticated request does with an error answer: a session that has ended is
 * closed here; a proof outside the server's time window sets the clock offset from the
 * server's Date header, and the caller signs again (answers true). Anything else throws.
 */
async function resyncedAfter(raw: RawResponse, attempt: number): Promise<true> {
  const error = toApiError(raw);
  if (error.status === 401 && SESSION_ENDING_CODES.includes(error.code as ErrorCode)) {
    await endSession(error.code as ErrorCode);
    throw error;
  }
  if (error.code === 'TIMESTAMP_OUT_OF_WINDOW' && attempt < ATTEMPTS_MAX && raw.dateHeader) {
    const serverNowMs = Date.parse(raw.dateHeader);
    if (Number.isFinite(serverNowMs)) {
      clockOffsetMs = serverNowMs - Date.now();
      return true;
    }
  }
  throw error;
}

export async function authedRequest<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const target = pathWithQuery(path, options.query);
  const { body, contentType } = encodeBody(options);
  for (let attempt = 1; ; attempt++) {
    const session = await loadSession();
    if (!session) {
      await endSession('AUTH_REQUIRED');
      throw new ApiError({ status: 401, code: 'AUTH_REQUIRED', title: 'Log in to continue' });
    }
    // Signed inside the loop: every attempt gets its own time and nonce.
    const proofHeaders = await signRequest({
      publicToken: session.publicToken,
      secretKey: session.secretKey,
      method,
      pathWithQuery: target,
      ...(body ? { body } : {}),
      timestampMs: Date.now() + clockOffsetMs,
      nonce: nextNonce(),
    });
    const headers: Record<string, string> = { accept: 'application/json', ...proofHeaders };
    if (contentType) headers['content-type'] = contentType;
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const raw =
      body && options.onUploadProgress
        ? await sendWithXhr(method, target, headers, body, options.onUploadProgress)
        : await sendWithFetch(method, target, headers, body);
    if (raw.status < 400) return parseBody<T>(raw);

    if (await resyncedAfter(raw, attempt)) continue;
  }
}

/**
 * Opens a signed GET whose answer is read as a stream (server-sent events).
 * EventSource cannot send the proof headers, so the caller reads
 * `response.body` itself. Resolves once the headers of a 2xx answer arrived;
 * refusals become {@link ApiError} exactly as in {@link authedRequest}, and a
 * network failure is `NETWORK_ERROR`. Each call is signed afresh, so a
 * reconnect never replays a proof.
 */
export function openAuthedStream(path: string, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
  return openAuthedGet(path, 'text/event-stream', signal, headers);
}

/**
 * A signed GET of a file (a picture, a download): the answer's bytes as a Blob.
 * Refusals become {@link ApiError} as in {@link authedRequest}.
 */
export async function authedBlob(path: string): Promise<Blob> {
  const response = await openAuthedGet(path, '*/*');
  try {
    return await response.blob();
  } catch {
    throw new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'The server could not be reached' });
  }
}

async function openAuthedGet(path: string, accept: string, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const session = await loadSession();
    if (!session) {
      await endSession('AUTH_REQUIRED');
      throw new ApiError({ status: 401, code: 'AUTH_REQUIRED', title: 'Log in to continue' });
    }
    const proofHeaders = await signRequest({
      publicToken: session.publicToken,
      secretKey: session.secretKey,
      method: 'GET',
      pathWithQuery: path,
      timestampMs: Date.now() + clockOffsetMs,
      nonce: nextNonce(),
    });
    let response: Response;
    try {
      response = await fetch(path, {
        method: 'GET',
        headers: { ...headers, accept, ...proofHeaders },
        credentials: 'same-origin',
        cache: 'no-store',
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'The server could not be reached' });
    }
    if (response.status < 400) return response;

    const raw: RawResponse = {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      dateHeader: response.headers.get('date'),
      text: await response.text(),
    };
    if (await resyncedAfter(raw, attempt)) continue;
  }
}

/** GET without a login. */
export function get<T>(path: string, query?: Query): Promise<T> {
  return publicRequest<T>('GET', path, query ? { query } : {});
}

/** POST a JSON body without a login. */
export function post<T>(path: string, json: unknown): Promise<T> {
  return publicRequest<T>('POST', path, { json });
}

/** GET a text document without a login (a PEM file). */
export async function getText(path: string): Promise<string> {
  const raw = await sendWithFetch('GET', path, { accept: 'text/plain, application/x-pem-file, */*' }, undefined);
  if (raw.status >= 400) throw toApiError(raw);
  return raw.text;
}

/**
 * GET a binary document without a login (a DER CRL); never from the browser's cache. With
 * the server's time when it answered (its `Date` header, to the second), when it sent one.
 */
export async function getBytes(path: string, accept: string): Promise<{ bytes: Bytes; serverTimeMs: number | null }> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept }, credentials: 'same-origin', cache: 'no-store' });
    if (response.status < 400) {
      const date = Date.parse(response.headers.get('date') ?? '');
      return { bytes: new Uint8Array(await response.arrayBuffer()), serverTimeMs: Number.isFinite(date) ? date : null };
    }
  } catch {
    throw new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'The server could not be reached' });
  }
  throw toApiError({ status: response.status, contentType: response.headers.get('content-type') ?? '', dateHeader: response.headers.get('date'), text: await response.text() });
}

/** Signed request helpers, one per method. */
export const authed = {
  get: <T>(path: string, query?: Query) => authedRequest<T>('GET', path, query ? { query } : {}),
  post: <T>(path: string, json?: unknown, idempotencyKey?: string) =>
    authedRequest<T>('POST', path, { ...(json === undefined ? {} : { json }), ...(idempotencyKey ? { idempotencyKey } : {}) }),
  put: <T>(path: string, json: unknown) => authedRequest<T>('PUT', path, { json }),
  patch: <T>(path: string, json: unknown) => authedRequest<T>('PATCH', path, { json }),
  delete: <T>(path: string) => authedRequest<T>('DELETE', path),
  /** PUT raw bytes (an image), optionally reporting upload progress. */
  putBytes: <T>(path: string, data: Bytes, contentType: string, onUploadProgress?: (fraction: number) => void) =>
    authedRequest<T>('PUT', path, { bytes: { data, contentType }, ...(onUploadProgress ? { onUploadProgress } : {}) }),
};
