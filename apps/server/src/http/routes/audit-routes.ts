/**
 * The audit log's export for `coconutpay audit verify` (docs/admin.md): JSON lines, one
 * page at a time by sequence number, each page with the heads signed over its entries.
 * Served to the bearer of AUDIT_EXPORT_TOKEN (a machine credential an operator gives the
 * verifying host, compared in constant time like the metrics token) or to a fully logged-in
 * operator's session (the console's "export the whole log").
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@coconutpay/core/errors';
import type { AuditExportLine } from '@coconutpay/core/audit';
import { AUDIT_PAGE_ENTRIES_MAX, type AuditLog } from '../../services/audit-log.js';
import type { AdminService } from '../../services/admin.js';
import { actorOf } from '../authenticate.js';
import { bearerTokenMatches } from '../metrics.js';
import { responses } from '../schemas.js';

const ExportQuery = Type.Object(
  {
    after: Type.Integer({ minimum: 0, default: 0, description: 'Entries with a greater sequence number' }),
    limit: Type.Integer({ minimum: 1, maximum: AUDIT_PAGE_ENTRIES_MAX, default: 1000 }),
  },
  { additionalProperties: false },
);

/** Entries, then the heads signed over them, one JSON object per line. */
export function exportLines(page: { entries: readonly object[]; heads: readonly object[] }): string {
  const lines: AuditExportLine[] = [
    ...page.entries.map((e) => ({ type: 'entry' as const, ...(e as Omit<Extract<AuditExportLine, { type: 'entry' }>, 'type'>) })),
    ...page.heads.map((h) => ({ type: 'head' as const, ...(h as Omit<Extract<AuditExportLine, { type: 'head' }>, 'type'>) })),
  ];
  return lines.map((line) => `${JSON.stringify(line)}\n`).join('');
}

export function auditRoutes(app: FastifyInstance, audit: AuditLog, admin: Pick<AdminService, 'requireAdmin'>, exportToken: string | undefined): void {
  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/admin/api/audit/export',
    {
      schema: {
        tags: ['admin'],
        summary: 'One page of the audit log as JSON lines (entries after `after`, then the signed heads over them); for the audit export bearer token or an operator',
        querystring: ExportQuery,
        response: responses({ 200: Type.String({ description: 'application/x-ndjson' }) }),
      },
      // A bearer token is the machine's way in; any other Authorization is an operator's session.
      preValidation: async function (this: FastifyInstance, request, reply) {
        if (/^Bearer /i.test(request.headers.authorization ?? '')) {
          if (exportToken === undefined || !bearerTokenMatches(request.headers.authorization, exportToken)) throw new AppError('AUDIT_EXPORT_TOKEN_INVALID');
          return;
        }
        await app.authenticate.call(this, request, reply);
        await admin.requireAdmin(actorOf(request));
      },
    },
    async (request, reply) => {
      const { after, limit } = request.query;
      // One entry per export, at its first page: an entry per page would feed the export forever.
      if (after === 0) await audit.append('audit.exported', request.actor ? { actor: request.actor.userId, detail: { by: 'operator' } } : { detail: { by: 'export-token' } });
      const page = await audit.exportPage(after, limit);
      return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(exportLines(page));
    },
  );
}
