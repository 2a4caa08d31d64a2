/**
 * The audit log's export for `coconutpay audit verify --online` (docs/admin.md): JSON
 * lines, one page at a time by sequence number, each page with the heads signed over
 * its entries. Served only to the bearer of AUDIT_EXPORT_TOKEN (a machine credential an
 * operator gives the verifying host), compared in constant time like the metrics token.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@coconutpay/core/errors';
import type { AuditExportLine } from '@coconutpay/core/audit';
import { AUDIT_PAGE_ENTRIES_MAX, type AuditLog } from '../../services/audit-log.js';
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

export function auditRoutes(app: FastifyInstance, audit: AuditLog, exportToken: string | undefined): void {
  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/admin/api/audit/export',
    {
      schema: {
        tags: ['admin'],
        summary: 'One page of the audit log as JSON lines (entries after `after`, then the signed heads over them); needs the audit export bearer token',
        querystring: ExportQuery,
        response: responses({ 200: Type.String({ description: 'application/x-ndjson' }) }),
      },
      onRequest: async (request) => {
        if (exportToken === undefined || !bearerTokenMatches(request.headers.authorization, exportToken)) throw new AppError('AUDIT_EXPORT_TOKEN_INVALID');
      },
    },
    async (request, reply) => {
      const { after, limit } = request.query;
      // One entry per export, at its first page: an entry per page would feed the export forever.
      if (after === 0) await audit.append('audit.exported', { detail: { by: 'export-token' } });
      const page = await audit.exportPage(after, limit);
      return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(exportLines(page));
    },
  );
}
