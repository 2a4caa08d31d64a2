/**
 * The new device waiting for the master device's decision. The server pushes it
 * on an event stream (`state` first, then exactly one `decision`, then it
 * closes). When the connection breaks, the current state is fetched once — the
 * decision may have been made in the meantime — and the stream is reopened after
 * a growing pause. The server expires the request on time, so the wait ends.
 */
import { ApiError, openAuthedStream } from './client.js';
import { deviceRequestEventsPath, getDeviceRequest, type DeviceRequestState } from './certificates.js';
import { abortableSleep, readEventStream } from './event-stream.js';

/** Pauses before reopening a broken stream; the last one repeats. */
export const RECONNECT_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000] as const;
/** Reconnects in one wait; at the longest pause this covers a request's whole 10 minutes. */
export const RECONNECTS_MAX = 80;

/** What {@link waitForDecision} uses to reach the server; tests substitute their own. */
export interface DecisionTransport {
  openStream(path: string, signal: AbortSignal): Promise<Response>;
  fetchState(id: string): Promise<DeviceRequestState>;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

function abortError(): DOMException {
  return new DOMException('The wait was cancelled', 'AbortError');
}

/** The browser's transport: the signed stream and GET of the API client. */
export const browserTransport: DecisionTransport = {
  openStream: openAuthedStream,
  fetchState: getDeviceRequest,
  sleep: abortableSleep,
};

const STATUSES = new Set(['pending', 'approved', 'rejected', 'expired']);

/** Reads one event's JSON as a request state; undefined when it is not one. */
export function parseRequestState(data: string, requestId: string): DeviceRequestState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<DeviceRequestState>;
  if (v.id !== requestId || typeof v.status !== 'string' || !STATUSES.has(v.status)) return undefined;
  if (typeof v.code !== 'string' || typeof v.serverNonce !== 'string' || typeof v.expiresAtMs !== 'number' || typeof v.nickname !== 'string') return undefined;
  if (v.status === 'approved') {
    const issued = v.issued;
    if (!issued || typeof issued.certificatePem !== 'string' || typeof issued.chainPem !== 'string' || typeof issued.certificate?.id !== 'string') return undefined;
  }
  return { ...(v as DeviceRequestState), issued: v.issued ?? null };
}

/** A failure worth another try: the network, or a stream that broke mid-way or said something unreadable. */
function isTransient(error: unknown): boolean {
  if (error instanceof ApiError) return error.code === 'NETWORK_ERROR' || error.status >= 500;
  // fetch bodies fail with TypeError when the connection drops; the parser throws EventStreamError.
  return error instanceof TypeError || (error instanceof Error && error.name === 'EventStreamError');
}

/**
 * Waits for the decision on request `requestId`. `onState` sees every state on
 * the way (the stream's first event, fallback reads). Resolves with the final
 * state (approved, rejected or expired); rejects with the server's refusal (e.g.
 * `APPROVAL_REQUEST_NOT_FOUND`), with `NETWORK_ERROR` after {@link RECONNECTS_MAX}
 * failed reconnects, or with an `AbortError` when `signal` aborts.
 */
export async function waitForDecision(
  requestId: string,
  options: { signal: AbortSignal; onState?: (state: DeviceRequestState) => void; transport?: DecisionTransport },
): Promise<DeviceRequestState> {
  const transport = options.transport ?? browserTransport;
  const { signal } = options;
  let lastError: unknown;
  for (let attempt = 0; attempt <= RECONNECTS_MAX; attempt++) {
    if (signal.aborted) throw abortError();
    let decision: DeviceRequestState | undefined;
    try {
      const response = await transport.openStream(deviceRequestEventsPath(requestId), signal);
      if (!response.body) throw new TypeError('no response body');
      await readEventStream(response.body, (event) => {
        const state = parseRequestState(event.data, requestId);
        if (!state) return;
        if (event.type === 'decision' && state.status !== 'pending') {
          decision = state;
          return 'stop';
        }
        if (event.type === 'state') {
          options.onState?.(state);
          // A request decided before we connected arrives as state and decision; either will do.
          if (state.status !== 'pending') {
            decision = state;
            return 'stop';
          }
        }
      });
      if (decision) return decision;
      lastError = new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'The event stream ended without a decision' });
    } catch (error) {
      if (signal.aborted) throw abortError();
      if (!isTransient(error)) throw error;
      lastError = error;
    }

    // The decision may have been pushed while we were disconnected.
    try {
      const state = await transport.fetchState(requestId);
      options.onState?.(state);
      if (state.status !== 'pending') return state;
    } catch (error) {
      if (signal.aborted) throw abortError();
      if (!isTransient(error)) throw error;
      lastError = error;
    }
    await transport.sleep(RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)]!, signal);
  }
  throw lastError instanceof ApiError ? lastError : new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'The server could not be reached' });
}
