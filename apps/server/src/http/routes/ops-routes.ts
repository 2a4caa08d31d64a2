/** Health; `/metrics` is served by http/metrics.ts, only to a token or on its own address. */
import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import { Health, responses } from '../schemas.js';
import type { Database } from '../../db/schema.js';

export const VERSION = '0.1.0';

export function opsRoutes(app: FastifyInstance, db: Kysely<Database>): void {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness and database reachability', response: responses({ 200: Health, 503: Health }) } },
    async (_request, reply) => {
      try {
        await sql`select 1`.execute(db);
        return { status: 'ok', database: 'ok', version: VERSION };
      } catch (err) {
        _request.log.error({ err }, 'health check: database unreachable');
        return reply.code(503).send({ status: 'degraded', database: 'down', version: VERSION });
      }
    },
  );
}
