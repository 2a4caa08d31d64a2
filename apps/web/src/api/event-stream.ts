/**
 * A reader of `text/event-stream` (the server-sent events format of the HTML
 * standard, §9.2.6) for streams opened with `fetch`, since EventSource cannot
 * send our signed headers.
 *
 * Only what our server sends matters (`event:` and `data:` lines, comments as
 * heartbeats), but the parser follows the standard's rules: CR, LF and CRLF all
 * end a line (also when CR and LF arrive in different chunks), one space after
 * the colon is dropped, several `data:` lines join with LF, a blank line
 * dispatches, an event without data is not dispatched, and a stream that ends
 * mid-event drops that event.
 */

/** One dispatched event. */
export interface StreamEvent {
  /** The `event:` field; `message` when the event named none. */
  type: string;
  data: string;
  /** The last `id:` seen so far, or empty. */
  lastEventId: string;
}

/** Longest line or event the parser accepts; our events carry a certificate chain, a few KB. */
export const EVENT_STREAM_BUFFER_MAX = 256 * 1024;

/** The stream broke the format or a bound (not a network failure). */
export class EventStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStreamError';
  }
}

/** What {@link createEventStreamParser} returns. */
export interface EventStreamParser {
  /** Feeds decoded text, in any chunking. */
  push(text: string): void;
  /** Ends the stream; an event without its closing blank line is dropped, as the standard says. */
  end(): void;
}

/**
 * A push parser calling `onEvent` for each complete event.
 *
 * @example
 * const parser = createEventStreamParser((e) => console.log(e.type, e.data));
 * parser.push('event: state\ndata: {"a":1}\n\n');
 */
export function createEventStreamParser(onEvent: (event: StreamEvent) => void, bufferMax = EVENT_STREAM_BUFFER_MAX): EventStreamParser {
  let pending = '';
  // A CR ended the last chunk: an LF starting the next one belongs to it.
  let skipLeadingLf = false;
  let type = '';
  let data: string[] = [];
  let dataLength = 0;
  let lastEventId = '';

  function dispatch(): void {
    if (data.length > 0) onEvent({ type: type || 'message', data: data.join('\n'), lastEventId });
    type = '';
    data = [];
    dataLength = 0;
  }

  function line(text: string): void {
    if (text === '') {
      dispatch();
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        type = value;
        break;
      case 'data':
        dataLength += value.length + 1;
        if (dataLength > bufferMax) throw new EventStreamError('event too large');
        data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) lastEventId = value;
        break;
      default:
        // `retry:` and unknown fields: we reconnect on our own schedule.
        break;
    }
  }

  return {
    push(text) {
      if (text === '') return;
      let input = text;
      if (skipLeadingLf && input.startsWith('\n')) input = input.slice(1);
      skipLeadingLf = false;
      pending += input;
      let start = 0;
      for (;;) {
        const cr = pending.indexOf('\r', start);
        const lf = pending.indexOf('\n', start);
        if (cr === -1 && lf === -1) break;
        const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
        line(pending.slice(start, end));
        if (pending[end] === '\r') {
          if (end + 1 === pending.length) {
            skipLeadingLf = true;
            start = end + 1;
            continue;
          }
          start = pending[end + 1] === '\n' ? end + 2 : end + 1;
        } else {
          start = end + 1;
        }
      }
      pending = pending.slice(start);
      if (pending.length > bufferMax) throw new EventStreamError('line too long');
    },
    end() {
      pending = '';
      type = '';
      data = [];
      dataLength = 0;
    },
  };
}

/**
 * Reads a fetch body to its end, calling `onEvent` per event. Resolves when the
 * server closes the stream or `onEvent` returns `'stop'` (the reader is then
 * cancelled); rejects when the connection breaks or the format is broken.
 */
export async function readEventStream(body: ReadableStream<Uint8Array>, onEvent: (event: StreamEvent) => 'stop' | void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let stopped = false;
  let ended = false;
  const parser = createEventStreamParser((event) => {
    if (stopped) return;
    if (onEvent(event) === 'stop') stopped = true;
  });
  try {
    while (!stopped) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        parser.push(decoder.decode());
        parser.end();
        return;
      }
      parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    // Stopped early or failed: tell the server we are gone instead of leaving the socket open.
    if (!ended) await reader.cancel().catch(() => undefined);
  }
}

/** Waits `ms`, or rejects with an AbortError as soon as `signal` aborts: the pause between reconnects. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const abortError = () => new DOMException('The wait was cancelled', 'AbortError');
    if (signal.aborted) {
      reject(abortError());
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
