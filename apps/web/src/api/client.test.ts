import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { toBase64Url, utf8 } from '@coconutpay/core/encoding';
import { importSecretToken, sha256Hex, verifyProof, EMPTY_BODY_SHA256_HEX } from '@coconutpay/core/protocol';
import { ApiError, authed, authedBlob, get, getText, onSessionEnded, openAuthedStream } from './client.js';
import { clearSession, loadSession, saveSession } from './token-store.js';
import type { User } from './types.js';

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

const USER: User = { id: 'u1', loginId: 'buyer1', role: 'buyer', name: 'Kim', phone: '010-1234-5678', address: 'Seoul', email: 'k@example.com', store: null, createdAtMs: 0 };
const SECRET = toBase64Url(new Uint8Array(32).map((_, i) => i + 1));

let sent: Sent[];
let answers: Response[];

function problem(status: number, body: object, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json', ...headers } });
}

beforeEach(async () => {
  sent = [];
  answers = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    sent.push({ url, method: String(init.method), headers: init.headers as Record<string, string>, body: init.body ? (init.body as Uint8Array) : undefined });
    return answers.shift() ?? new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
  });
  // Node has no IndexedDB, so the token store keeps the session in memory here.
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  await saveSession({ publicToken: 'tp.public', secretKey: await importSecretToken(SECRET), sessionId: 's1', expiresAtMs: Date.now() + 60_000, idleTimeoutMs: 60_000, user: USER });
});

afterEach(async () => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  await clearSession();
});

async function proofHolds(request: Sent, bytes: Uint8Array | undefined): Promise<boolean> {
  const key = await importSecretToken(SECRET);
  return verifyProof(
    key,
    {
      method: request.method,
      pathWithQuery: request.url,
      timestampMs: Number(request.headers['x-coconutpay-timestamp']),
      nonce: request.headers['x-coconutpay-nonce'] ?? '',
      bodySha256Hex: bytes && bytes.length > 0 ? await sha256Hex(new Uint8Array(bytes)) : EMPTY_BODY_SHA256_HEX,
    },
    request.headers['x-coconutpay-proof'] ?? '',
  );
}

describe('signed requests', () => {
  it('signs the exact bytes and target that are sent, with a fresh nonce each time', async () => {
    await authed.put('/api/cart/items/p1', { quantity: 2 });
    await authed.get('/api/seller/products', { page: 2, pageSize: 12, q: '' });
    const [put, list] = sent;
    expect(put?.body).toEqual(utf8('{"quantity":2}'));
    expect(put?.headers['content-type']).toBe('application/json');
    expect(put?.headers.authorization).toBe('CoconutPay-DualToken tp.public');
    expect(list?.url).toBe('/api/seller/products?page=2&pageSize=12');
    expect(await proofHolds(put!, put!.body)).toBe(true);
    expect(await proofHolds(list!, undefined)).toBe(true);
    expect(put?.headers['x-coconutpay-nonce']).not.toBe(list?.headers['x-coconutpay-nonce']);
  });

  it('yields a proof that fails for other bytes or another target', async () => {
    await authed.put('/api/cart/items/p1', { quantity: 2 });
    const put = sent[0]!;
    expect(await proofHolds(put, utf8('{"quantity":3}'))).toBe(false);
    expect(await proofHolds({ ...put, url: '/api/cart/items/p2' }, put.body)).toBe(false);
  });

  it('re-signs a retry after the server refuses the clock', async () => {
    const serverDate = new Date(Date.now() + 5 * 60_000).toUTCString();
    answers.push(problem(401, { type: 't', title: 'x', status: 401, code: 'TIMESTAMP_OUT_OF_WINDOW' }, { date: serverDate }));
    await authed.get('/api/me');
    expect(sent).toHaveLength(2);
    const [first, second] = sent;
    expect(second?.headers['x-coconutpay-nonce']).not.toBe(first?.headers['x-coconutpay-nonce']);
    expect(Number(second?.headers['x-coconutpay-timestamp']) - Number(first?.headers['x-coconutpay-timestamp'])).toBeGreaterThan(4 * 60_000);
    expect(await proofHolds(second!, undefined)).toBe(true);
  });

  it('forgets the session and reports it when the server ends it', async () => {
    const ended: string[] = [];
    onSessionEnded((code) => ended.push(code));
    answers.push(problem(401, { type: 't', title: 'The session has ended', status: 401, code: 'SESSION_REVOKED' }));
    await expect(authed.get('/api/me')).rejects.toMatchObject({ status: 401, code: 'SESSION_REVOKED' });
    expect(ended).toEqual(['SESSION_REVOKED']);
    expect(await loadSession()).toBeNull();
  });

  it('keeps the session after a 401 that does not end it', async () => {
    answers.push(problem(401, { type: 't', title: 'x', status: 401, code: 'PROOF_INVALID' }));
    await expect(authed.get('/api/me')).rejects.toMatchObject({ code: 'PROOF_INVALID' });
    expect(await loadSession()).not.toBeNull();
  });
});

describe('problem documents', () => {
  it('maps validation pointers to form field paths', async () => {
    answers.push(
      problem(400, {
        type: 'urn:coconutpay:problem:VALIDATION_FAILED',
        title: 'The request does not match the expected shape',
        status: 400,
        code: 'VALIDATION_FAILED',
        errors: [
          { pointer: '/body/email', code: 'format' },
          { pointer: '/body/store/storeName', code: 'minLength' },
          { pointer: '/querystring/page', code: 'minimum' },
        ],
      }),
    );
    const error = await get('/api/products').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).fieldErrors.map((f) => [f.field, f.code])).toEqual([
      ['email', 'format'],
      ['store.storeName', 'minLength'],
      ['', 'minimum'],
    ]);
  });

  it('keeps the title of a code this build does not know', async () => {
    answers.push(problem(409, { type: 't', title: 'Some newer failure', status: 409, code: 'SOMETHING_NEW' }));
    const error = (await get('/api/products').catch((e: unknown) => e)) as ApiError;
    expect(error.code).toBe('UNEXPECTED_RESPONSE');
    expect(error.title).toBe('Some newer failure');
  });

  it('reports a network failure as NETWORK_ERROR', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(get('/api/products')).rejects.toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
  });
});

describe('signed streams', () => {
  it('signs a GET for the event stream and hands back the open response', async () => {
    answers.push(new Response('event: state\ndata: {}\n\n', { status: 200, headers: { 'content-type': 'text/event-stream' } }));
    const response = await openAuthedStream('/api/certificates/requests/r1/events');
    expect(await response.text()).toContain('event: state');
    const request = sent[0]!;
    expect(request.method).toBe('GET');
    expect(request.url).toBe('/api/certificates/requests/r1/events');
    expect(request.headers.accept).toBe('text/event-stream');
    expect(request.headers.authorization).toBe('CoconutPay-DualToken tp.public');
    expect(await proofHolds(request, undefined)).toBe(true);
    // Signed for this path only.
    expect(await proofHolds({ ...request, url: '/api/certificates/requests/r2/events' }, undefined)).toBe(false);
  });

  it('signs every reconnect afresh', async () => {
    await openAuthedStream('/api/certificates/requests/r1/events');
    await openAuthedStream('/api/certificates/requests/r1/events');
    expect(sent[0]?.headers['x-coconutpay-nonce']).not.toBe(sent[1]?.headers['x-coconutpay-nonce']);
  });

  it('turns a refusal into ApiError and a network failure into NETWORK_ERROR', async () => {
    answers.push(problem(404, { type: 't', title: 'No such request', status: 404, code: 'APPROVAL_REQUEST_NOT_FOUND' }));
    await expect(openAuthedStream('/api/certificates/requests/r1/events')).rejects.toMatchObject({ status: 404, code: 'APPROVAL_REQUEST_NOT_FOUND' });
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(openAuthedStream('/api/certificates/requests/r1/events')).rejects.toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
  });

  it('ends the session like any signed call', async () => {
    const ended: string[] = [];
    onSessionEnded((code) => ended.push(code));
    answers.push(problem(401, { type: 't', title: 'The session has ended', status: 401, code: 'SESSION_EXPIRED' }));
    await expect(openAuthedStream('/api/certificates/requests/r1/events')).rejects.toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(ended).toEqual(['SESSION_EXPIRED']);
  });
});

describe('files and idempotency', () => {
  it('sends the Idempotency-Key given for a POST, and none otherwise', async () => {
    await authed.post('/api/me/wallet/top-ups', { amountWon: 50_000 }, 'key-1');
    await authed.post('/api/orders', { source: 'cart' });
    expect(sent[0]?.headers['idempotency-key']).toBe('key-1');
    expect(sent[1]?.headers['idempotency-key']).toBeUndefined();
    // The key is a header: the proof still covers the exact body bytes.
    expect(await proofHolds(sent[0]!, utf8('{"amountWon":50000}'))).toBe(true);
  });

  it('fetches a signed file as bytes, and a refusal as ApiError', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    answers.push(new Response(png, { status: 200, headers: { 'content-type': 'image/png' } }));
    const blob = await authedBlob('/api/payments/commands/c1/code.png');
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(png);
    expect(sent[0]?.headers.accept).toBe('*/*');
    expect(await proofHolds(sent[0]!, undefined)).toBe(true);
    answers.push(problem(404, { type: 't', title: 'No such command', status: 404, code: 'PAYMENT_COMMAND_NOT_FOUND' }));
    await expect(authedBlob('/api/payments/commands/c1/code.png')).rejects.toMatchObject({ status: 404, code: 'PAYMENT_COMMAND_NOT_FOUND' });
  });

  it('reads a public text document unsigned', async () => {
    answers.push(new Response('-----BEGIN CERTIFICATE-----\n', { status: 200, headers: { 'content-type': 'application/pem-certificate-chain' } }));
    expect(await getText('/pki/ca.pem')).toContain('BEGIN CERTIFICATE');
    expect(sent[0]?.headers.authorization).toBeUndefined();
    answers.push(problem(404, { type: 't', title: 'Not found', status: 404, code: 'ROUTE_NOT_FOUND' }));
    await expect(getText('/pki/nothing.pem')).rejects.toBeInstanceOf(ApiError);
  });
});
