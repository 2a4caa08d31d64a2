import { describe, expect, it } from 'vitest';
import { createEventStreamParser, EventStreamError, readEventStream, type StreamEvent } from './event-stream.js';

function parseAll(chunks: string[], bufferMax?: number): StreamEvent[] {
  const events: StreamEvent[] = [];
  const parser = createEventStreamParser((event) => events.push(event), bufferMax);
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return events;
}

function streamOf(chunks: (string | Error)[]): { body: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  const encoder = new TextEncoder();
  let index = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[index++];
      if (next === undefined) controller.close();
      else if (next instanceof Error) controller.error(next);
      else controller.enqueue(encoder.encode(next));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { body, cancelled: () => cancelled };
}

const SERVER_STREAM = 'event: state\ndata: {"status":"pending"}\n\n: keep-alive\n\nevent: decision\ndata: {"status":"approved"}\n\n';

describe('event stream parser', () => {
  it('reads what our server sends, ignoring heartbeat comments', () => {
    expect(parseAll([SERVER_STREAM])).toEqual([
      { type: 'state', data: '{"status":"pending"}', lastEventId: '' },
      { type: 'decision', data: '{"status":"approved"}', lastEventId: '' },
    ]);
  });

  it('gives the same events however the text is cut, down to one character per chunk', () => {
    const whole = parseAll([SERVER_STREAM]);
    expect(parseAll(SERVER_STREAM.split(''))).toEqual(whole);
    for (let cut = 1; cut < SERVER_STREAM.length; cut++) {
      expect(parseAll([SERVER_STREAM.slice(0, cut), SERVER_STREAM.slice(cut)]), `cut at ${cut}`).toEqual(whole);
    }
  });

  it('accepts CRLF, CR and LF line ends, also with CR and LF in different chunks', () => {
    const crlf = SERVER_STREAM.replace(/\n/g, '\r\n');
    const cr = SERVER_STREAM.replace(/\n/g, '\r');
    const whole = parseAll([SERVER_STREAM]);
    expect(parseAll([crlf])).toEqual(whole);
    expect(parseAll([cr])).toEqual(whole);
    expect(parseAll(crlf.split(''))).toEqual(whole);
    // A CR ending one chunk and an LF starting the next is one line end, not two (which would dispatch early).
    expect(parseAll(['data: a\r', '\ndata: b\r\n', '\r\n'])).toEqual([{ type: 'message', data: 'a\nb', lastEventId: '' }]);
  });

  it('follows the standard on fields: one space dropped, data lines joined, no-data events and unknown fields ignored', () => {
    expect(parseAll(['event:x\ndata:  two spaces\ndata\ndata: last\nretry: 10\nfoo: bar\n\n'])).toEqual([{ type: 'x', data: ' two spaces\n\nlast', lastEventId: '' }]);
    expect(parseAll(['event: nothing\n\n'])).toEqual([]);
    expect(parseAll(['id: 7\ndata: a\n\ndata: b\n\n']).map((e) => e.lastEventId)).toEqual(['7', '7']);
  });

  it('drops an event the stream ended in the middle of', () => {
    expect(parseAll(['event: decision\ndata: {"status":"approved"}\n'])).toEqual([]);
    expect(parseAll(['event: decision\ndata: {"status":"approv'])).toEqual([]);
  });

  it('refuses lines and events over the bound', () => {
    expect(() => parseAll(['data: ' + 'x'.repeat(100)], 64)).toThrow(EventStreamError);
    expect(() => parseAll(['data: ' + 'x'.repeat(40) + '\n' + 'data: ' + 'y'.repeat(40) + '\n'], 64)).toThrow(EventStreamError);
    expect(parseAll(['data: ' + 'x'.repeat(40) + '\n\n'], 64)).toHaveLength(1);
  });
});

describe('readEventStream', () => {
  it('reads a body to its end, decoding UTF-8 split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: 내 휴대폰\n\n');
    const events: string[] = [];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // Cut inside a multi-byte character.
        controller.enqueue(bytes.slice(0, 7));
        controller.enqueue(bytes.slice(7));
        controller.close();
      },
    });
    await readEventStream(body, (event) => void events.push(event.data));
    expect(events).toEqual(['내 휴대폰']);
  });

  it('stops and cancels the body when the handler says stop', async () => {
    const { body, cancelled } = streamOf(['data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n']);
    const seen: string[] = [];
    await readEventStream(body, (event) => {
      seen.push(event.data);
      return event.data === '2' ? 'stop' : undefined;
    });
    expect(seen).toEqual(['1', '2']);
    expect(cancelled()).toBe(true);
  });

  it('rejects when the connection breaks', async () => {
    const { body } = streamOf(['event: state\ndata: {}\n\n', new TypeError('network error')]);
    const seen: string[] = [];
    await expect(readEventStream(body, (event) => void seen.push(event.type))).rejects.toThrow(TypeError);
    expect(seen).toEqual(['state']);
  });
});
