/**
 * A small HTTP/1.1 JSON client over one keep-alive connection, for the load
 * generator: each virtual client holds its own socket, as a browser tab would.
 * `node:http` rather than `fetch`: it costs the load core less per request, and the
 * load core is what the benchmark must not run out of first.
 */
import http from 'node:http';

/** One answer: status, parsed JSON (or undefined), and the raw text. */
export interface HttpAnswer {
  status: number;
  json: unknown;
  text: string;
}

/** Most time one request may take before the run counts it as failed. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** A keep-alive connection to one server. */
export class HttpConnection {
  private readonly agent: http.Agent;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Sends `body` (already serialised, so a signature can cover its exact bytes). */
  send(method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: body ? { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) } : headers,
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text.length > 0 && /json/.test(response.headers['content-type'] ?? '') ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: response.statusCode ?? 0, json, text });
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
