/**
 * Schema compilers. Bodies are validated strictly: no type coercion and no silent
 * removal of unknown fields, so `"5"` for a number or an extra `userId` is an error.
 * Query strings and path parameters arrive as text and are coerced.
 */
import { Ajv, type Options } from 'ajv';
import { default as addFormatsModule } from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule);
import type { FastifyInstance, FastifySchema } from 'fastify';
import { useStringLength } from './string-length.js';

function makeAjv(options: Options) {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, removeAdditional: false, strict: false, ...options });
  addFormats(ajv, ['email', 'uuid', 'date-time', 'uri']);
  // The same length checks, without counting every character of long strings.
  useStringLength(ajv);
  return ajv;
}

/** Marks a body schema as raw bytes (see `RawBytesBody`). */
export const RAW_BYTES = 'x-raw-bytes';

export function installValidation(app: FastifyInstance, shared: object[]): void {
  const strict = makeAjv({ coerceTypes: false });
  const coercing = makeAjv({ coerceTypes: true });
  for (const schema of shared) {
    strict.addSchema(schema);
    coercing.addSchema(schema);
  }
  app.setValidatorCompiler<FastifySchema>(({ schema, httpPart }) => {
    // A raw upload (an image) is bytes, checked by the service; the schema only documents it.
    if (httpPart === 'body' && (schema as Record<string, unknown>)[RAW_BYTES] === true) return (value: unknown) => Buffer.isBuffer(value);
    return httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema);
  });
}
