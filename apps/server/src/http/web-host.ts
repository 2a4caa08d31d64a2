/**
 * Serves the built web app from the same origin as the API, with a strict
 * Content-Security-Policy, and answers client-side routes with index.html.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { sendProblem } from './problem.js';

/** Prefixes that belong to the server; an unknown path under them is a 404 problem, not the app. */
const SERVER_PREFIXES = ['/api/', '/pki/', '/healthz', '/metrics', '/docs', '/openapi.json'];

export async function installWebHost(app: FastifyInstance, webDistDir: string): Promise<void> {
  const indexFile = path.join(webDistDir, 'index.html');
  const hasWeb = existsSync(indexFile);
  if (hasWeb) {
    await app.register(fastifyStatic, {
      root: webDistDir,
      prefix: '/',
      index: false,
      wildcard: false,
      setHeaders(reply, filePath) {
        // Vite puts a content hash in every asset name, so assets can be cached forever.
        if (filePath.includes(`${path.sep}assets${path.sep}`)) reply.header('cache-control', 'public, max-age=31536000, immutable');
      },
    });
  } else {
    app.log.warn({ webDistDir }, 'web app not built: serving the API only (run `npm run build`)');
  }
  const indexHtml = hasWeb ? readFileSync(indexFile) : undefined;

  app.setNotFoundHandler((request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    const isServerPath = SERVER_PREFIXES.some((p) => pathname === p.replace(/\/$/, '') || pathname.startsWith(p));
    const wantsHtml = (request.method === 'GET' || request.method === 'HEAD') && (request.headers.accept ?? '').includes('text/html');
    if (indexHtml && !isServerPath && wantsHtml) {
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(indexHtml);
    }
    return sendProblem(reply, request, 'ROUTE_NOT_FOUND');
  });
}
