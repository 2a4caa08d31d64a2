/**
 * The one error handler: every failure leaves as RFC 9457 problem+json with a code
 * from the registry. Expected failures (AppError) carry their own code; Fastify's
 * own errors are mapped; anything else becomes a 500 whose cause is only logged.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, problemType, type ErrorCode, type FieldError, type LockInfo, type Problem } from '@coconutpay/core/errors';

interface AjvIssue {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** Turns ajv issues into `{ pointer, code }` entries rooted at the request part. */
export function fieldErrors(context: string | undefined, issues: AjvIssue[]): FieldError[] {
  return issues.map((issue) => {
    let pointer = `/${context ?? 'body'}${issue.instancePath}`;
    if (issue.keyword === 'required' && typeof issue.params.missingProperty === 'string') pointer += `/${issue.params.missingProperty}`;
    if (issue.keyword === 'additionalProperties' && typeof issue.params.additionalProperty === 'string') pointer += `/${issue.params.additionalProperty}`;
    return { pointer, code: issue.keyword };
  });
}

type ProblemExtra = { detail?: string; errors?: FieldError[]; lock?: LockInfo };

function classify(error: FastifyError | AppError): { code: ErrorCode } & ProblemExtra {
  if (error instanceof AppError) return { code: error.code, ...(error.detail !== undefined ? { detail: error.detail } : {}), ...(error.lock ? { lock: error.lock } : {}) };
  const fe = error as FastifyError & { validation?: AjvIssue[]; validationContext?: string };
  if (fe.validation) return { code: 'VALIDATION_FAILED', errors: fieldErrors(fe.validationContext, fe.validation) };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'PAYLOAD_TOO_LARGE' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'UNSUPPORTED_MEDIA_TYPE' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'MALFORMED_JSON' };
  }
  if (fe.statusCode === 404) return { code: 'ROUTE_NOT_FOUND' };
  if (fe.statusCode === 413) return { code: 'PAYLOAD_TOO_LARGE' };
  if (fe.statusCode === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE' };
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) return { code: 'VALIDATION_FAILED' };
  return { code: 'INTERNAL_ERROR' };
}

/** Builds the problem document for a code. */
export function problemOf(code: ErrorCode, instance: string, extra: ProblemExtra = {}): Problem {
  const entry = ERRORS[code];
  return { type: problemType(code), title: entry.title, status: entry.status, ...extra, instance, code };
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, code: ErrorCode, extra: ProblemExtra = {}) {
  const problem = problemOf(code, `urn:coconutpay:request:${request.id}`, extra);
  if (ERRORS[code].transient && problem.status >= 500) reply.header('retry-after', '1');
  return reply.code(problem.status).type('application/problem+json; charset=utf-8').send(problem);
}

/**
 * Installs the error and not-found handlers on `app`. `supportContact` is added to every
 * lock a refusal explains, so the reader knows whom to ask if it was not them.
 */
export function installProblemHandlers(app: FastifyInstance, options: { supportContact?: string } = {}): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { code, ...extra } = classify(error);
    if (extra.lock && options.supportContact) extra.lock = { ...extra.lock, contact: options.supportContact };
    const status = ERRORS[code].status;
    if (status >= 500) request.log.error({ err: error, code }, 'request failed');
    else request.log.info({ code, cause: error instanceof AppError && error.cause ? String(error.cause) : undefined }, 'request refused');
    return sendProblem(reply, request, code, extra);
  });
}
