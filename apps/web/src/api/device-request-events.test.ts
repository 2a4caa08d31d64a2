import { describe, expect, it } from 'vitest';
import { ApiError } from './client.js';
import type { CertificateInfo, DeviceRequestState } from './certificates.js';
import { parseRequestState, RECONNECT_DELAYS_MS, waitForDecision, type DecisionTransport } from './device-request-events.js';

const ID = '0b8f7a52-6a8e-4c3b-9a51-1f6f0d1c2e3a';

function state(status: DeviceRequestState['status'], extra: Partial<DeviceRequestState> = {}): DeviceRequestState {
  return {
    id: ID,
    nickname: '내 휴대폰',
    status,
    code: '123456',
    serverNonce: 'bm9uY2Vub25jZW5vbmNl',
    expiresAtMs: 1_000_000,
    issued:
      status === 'approved'
        ? {
            certificate: { id: 'c1' } as CertificateInfo,
            certificatePem: '-----BEGIN CERTIFICATE-----',
            chainPem: '-----BEGIN CERTIFICATE-----',
          }
        : null,
    ...extra,
  };
}

function sse(...events: [string, unknown][]): string {
  return events.map(([type, data]) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`).join('');
}

/** A body that delivers `parts` and then ends, or breaks when a part is an Error. */
function body(parts: (string | Error)[], opts: { hang?: boolean } = {}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = parts[index++];
      if (part === undefined) {
        if (!opts.hang) controller.close();
        return new Promise(() => undefined);
      }
      if (part instanceof Error) controller.error(part);
      else controller.enqueue(encoder.encode(part));
      return undefined;
    },
  });
}

interface Script {
  streams: (() => Promise<Response>)[];
  states: (() => Promise<DeviceRequestState>)[];
}

function transport(script: Script): DecisionTransport & { opened: string[]; fetched: number; slept: number[] } {
  const record = {
    opened: [] as string[],
    fetched: 0,
    slept: [] as number[],
    async openStream(path: string) {
      record.opened.push(path);
      const next = script.streams.shift();
      if (!next) throw new Error('no more streams scripted');
      return next();
    },
    async fetchState() {
      record.fetched++;
      const next = script.states.shift();
      if (!next) throw new Error('no more states scripted');
      return next();
    },
    async sleep(ms: number, signal: AbortSignal) {
      record.slept.push(ms);
      if (signal.aborted) throw new DOMException('aborted', 'AbortError');
    },
  };
  return record;
}

const ok = (parts: (string | Error)[], opts?: { hang?: boolean }) => async () => new Response(body(parts, opts), { status: 200, headers: { 'content-type': 'text/event-stream' } });
const networkError = () => new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'offline' });

describe('waitForDecision', () => {
  it('resolves with the pushed decision and reports the first state', async () => {
    const t = transport({ streams: [ok([sse(['state', state('pending')]), sse(['decision', state('approved')])], { hang: true })], states: [] });
    const seen: string[] = [];
    const result = await waitForDecision(ID, { signal: new AbortController().signal, transport: t, onState: (s) => seen.push(s.status) });
    expect(result.status).toBe('approved');
    expect(result.issued?.certificate.id).toBe('c1');
    expect(seen).toEqual(['pending']);
    expect(t.opened).toEqual([`/api/certificates/requests/${ID}/events`]);
    expect(t.fetched).toBe(0);
  });

  it('after a broken connection, reads the state once and returns a decision made meanwhile', async () => {
    const t = transport({ streams: [ok([sse(['state', state('pending')]), new TypeError('connection reset')])], states: [async () => state('rejected')] });
    const result = await waitForDecision(ID, { signal: new AbortController().signal, transport: t });
    expect(result.status).toBe('rejected');
    expect(t.opened).toHaveLength(1);
    expect(t.fetched).toBe(1);
  });

  it('reconnects with growing pauses while the request is still pending', async () => {
    const t = transport({
      streams: [async () => Promise.reject(networkError()), ok([sse(['state', state('pending')])]), ok([sse(['state', state('pending')]), sse(['decision', state('expired')])])],
      states: [async () => Promise.reject(networkError()), async () => state('pending')],
    });
    const result = await waitForDecision(ID, { signal: new AbortController().signal, transport: t });
    expect(result.status).toBe('expired');
    expect(t.opened).toHaveLength(3);
    expect(t.slept).toEqual([RECONNECT_DELAYS_MS[0], RECONNECT_DELAYS_MS[1]]);
  });

  it('takes a decided state as the first event (the decision came before we connected)', async () => {
    const t = transport({ streams: [ok([sse(['state', state('approved')]), sse(['decision', state('approved')])])], states: [] });
    expect((await waitForDecision(ID, { signal: new AbortController().signal, transport: t })).status).toBe('approved');
  });

  it('ignores events that are not a state of this request', async () => {
    const other = { ...state('approved'), id: 'someone-else' };
    const t = transport({
      streams: [ok([sse(['decision', other]), 'event: decision\ndata: not json\n\n', sse(['decision', state('rejected')])], { hang: true })],
      states: [],
    });
    expect((await waitForDecision(ID, { signal: new AbortController().signal, transport: t })).status).toBe('rejected');
  });

  it('passes a refusal from the server on at once', async () => {
    const notFound = new ApiError({ status: 404, code: 'APPROVAL_REQUEST_NOT_FOUND', title: 'no' });
    const t = transport({ streams: [async () => Promise.reject(notFound)], states: [] });
    await expect(waitForDecision(ID, { signal: new AbortController().signal, transport: t })).rejects.toBe(notFound);
    expect(t.fetched).toBe(0);
  });

  it('gives up with NETWORK_ERROR after the reconnect bound', async () => {
    const streams = Array.from({ length: 200 }, () => async () => Promise.reject(networkError()));
    const states = Array.from({ length: 200 }, () => async () => Promise.reject(networkError()));
    const t = transport({ streams, states });
    await expect(waitForDecision(ID, { signal: new AbortController().signal, transport: t })).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
    expect(t.opened.length).toBeLessThan(200);
  });

  it('stops with an AbortError when aborted, without reconnecting', async () => {
    const controller = new AbortController();
    const t = transport({ streams: [], states: [] });
    // Like fetch: aborting the signal breaks the open body.
    t.openStream = async (path, signal) => {
      t.opened.push(path);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode(sse(['state', state('pending')])));
          signal.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
        },
      });
      return new Response(stream, { status: 200 });
    };
    const waiting = waitForDecision(ID, { signal: controller.signal, onState: () => setTimeout(() => controller.abort(), 0), transport: t });
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(t.opened).toHaveLength(1);
    expect(t.fetched).toBe(0);
  });
});

describe('parseRequestState', () => {
  it('accepts a state of this request and refuses anything else', () => {
    expect(parseRequestState(JSON.stringify(state('pending')), ID)?.status).toBe('pending');
    expect(parseRequestState(JSON.stringify(state('pending')), 'other')).toBeUndefined();
    expect(parseRequestState(JSON.stringify({ ...state('pending'), status: 'done' }), ID)).toBeUndefined();
    expect(parseRequestState(JSON.stringify({ ...state('approved'), issued: null }), ID)).toBeUndefined();
    expect(parseRequestState('[', ID)).toBeUndefined();
    expect(parseRequestState('null', ID)).toBeUndefined();
  });
});
