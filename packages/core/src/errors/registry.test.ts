import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError } from './app-error.js';
import { ERRORS, ERROR_CODES, isErrorCode, problemType, type ErrorCode } from './registry.js';

const CODE_PATTERN = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
const ERRORS_DOC_URL = new URL('../../../../docs/errors.md', import.meta.url);

/** The codes named in the first cell of a Markdown table row: `| \`CODE\` | …`. */
function codesInTableRows(markdown: string): string[] {
  return [...markdown.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1]!);
}

/** One documented row: the code and its status, transient and title cells as written. */
interface DocumentedRow {
  code: string;
  status: string;
  transient: string;
  title: string;
}

/** The rows of a `| code | status | transient | title | when |` table, cells trimmed. */
function tableRows(markdown: string): DocumentedRow[] {
  return [...markdown.matchAll(/^\|\s*`([^`]+)`\s*\|([^\n]*)$/gm)].map((m) => {
    const [status = '', transient = '', title = ''] = m[2]!.split('|').map((cell) => cell.trim());
    return { code: m[1]!, status, transient, title };
  });
}

/** Each row whose status, transient or title differs from the registry, as `CODE column: doc ≠ registry`. */
function disagreements(rows: DocumentedRow[]): string[] {
  const found: string[] = [];
  for (const row of rows) {
    if (!isErrorCode(row.code)) continue;
    const { status, transient, title } = ERRORS[row.code];
    if (row.status !== String(status)) found.push(`${row.code} status: ${row.status} ≠ ${status}`);
    const transientCell = transient ? 'yes' : 'no';
    if (row.transient !== transientCell) found.push(`${row.code} transient: ${row.transient} ≠ ${transientCell}`);
    if (row.title !== title) found.push(`${row.code} title: ${row.title} ≠ ${title}`);
  }
  return found;
}

/** Which registry codes a document leaves out, and which codes it lists that the registry lacks. */
function compareWithRegistry(documented: string[]): { missing: string[]; unknown: string[] } {
  const inDoc = new Set(documented);
  return {
    missing: ERROR_CODES.filter((code) => !inDoc.has(code)),
    unknown: [...inDoc].filter((code) => !isErrorCode(code)),
  };
}

describe('error registry', () => {
  it('has codes, and no code twice', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(0);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES).toEqual(Object.keys(ERRORS));
  });

  it('names every code in UPPER_SNAKE_CASE', () => {
    for (const code of ERROR_CODES) expect(code, code).toMatch(CODE_PATTERN);
  });

  it('uses a pattern that really refuses other spellings', () => {
    for (const bad of ['lower_case', 'Mixed_Case', 'TRAILING_', '_LEADING', 'DOUBLE__UNDERSCORE', 'KEBAB-CASE', 'SPACE CASE', '1_DIGIT_FIRST', '']) {
      expect(bad, bad).not.toMatch(CODE_PATTERN);
    }
  });

  it('gives every code an HTTP error status from 400 to 599', () => {
    for (const code of ERROR_CODES) {
      const { status } = ERRORS[code];
      expect(Number.isInteger(status), code).toBe(true);
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThanOrEqual(599);
    }
  });

  it('gives every code a non-empty title and a boolean transient flag', () => {
    for (const code of ERROR_CODES) {
      const { title, transient } = ERRORS[code];
      expect(title.trim(), code).not.toBe('');
      expect(title, code).toBe(title.trim());
      expect(typeof transient, code).toBe('boolean');
    }
  });

  it('builds a problem type URN from the code', () => {
    for (const code of ERROR_CODES) {
      expect(problemType(code)).toBe(`urn:coconutpay:problem:${code}`);
      expect(problemType(code)).toMatch(/^urn:coconutpay:problem:[A-Z][A-Z0-9_]*$/);
    }
  });

  it('recognises registered codes and nothing else', () => {
    for (const code of ERROR_CODES) expect(isErrorCode(code), code).toBe(true);
    for (const value of ['', 'validation_failed', 'VALIDATION_FAILED ', 'NOT_A_CODE', 'toString', 'constructor', '__proto__', 'hasOwnProperty', 42, null, undefined, {}, ['VALIDATION_FAILED']]) {
      expect(isErrorCode(value), String(value)).toBe(false);
    }
  });
});

describe('AppError', () => {
  it('takes status and default message from the registry and keeps the cause apart', () => {
    const cause = new Error('internal detail');
    const error = new AppError('PRODUCT_NOT_FOUND', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('PRODUCT_NOT_FOUND');
    expect(error.status).toBe(404);
    expect(error.message).toBe(ERRORS.PRODUCT_NOT_FOUND.title);
    expect(error.detail).toBeUndefined();
    expect(error.cause).toBe(cause);
  });

  it('uses a given detail as message and detail', () => {
    const error = new AppError('STOCK_INSUFFICIENT', { detail: 'only 2 left' });
    expect(error.detail).toBe('only 2 left');
    expect(error.message).toBe('only 2 left');
    expect(error.status).toBe(ERRORS.STOCK_INSUFFICIENT.status);
  });
});

describe('docs/errors.md', () => {
  it('has a table row for every registered code and lists no other code', () => {
    const file = fileURLToPath(ERRORS_DOC_URL);
    expect(existsSync(file), `${file} does not exist; it must document every error code`).toBe(true);
    const documented = codesInTableRows(readFileSync(file, 'utf8'));
    expect(compareWithRegistry(documented)).toEqual({ missing: [], unknown: [] });
  });

  it('uses a check that notices a missing row and an unknown code', () => {
    const [first, ...rest] = ERROR_CODES as [ErrorCode, ...ErrorCode[]];
    const rows = (codes: string[]) => ['| Code | Status |', '| --- | --- |', ...codes.map((c) => `| \`${c}\` | 400 |`)].join('\n');
    expect(compareWithRegistry(codesInTableRows(rows(ERROR_CODES)))).toEqual({ missing: [], unknown: [] });
    expect(compareWithRegistry(codesInTableRows(rows(rest)))).toEqual({ missing: [first], unknown: [] });
    expect(compareWithRegistry(codesInTableRows(rows([...ERROR_CODES, 'RETIRED_CODE'])))).toEqual({ missing: [], unknown: ['RETIRED_CODE'] });
    // A code mentioned only in prose is not a row.
    expect(codesInTableRows(`See \`${first}\` below.\n| Code |\n| \`${rest[0]}\` |`)).toEqual([rest[0]]);
  });

  it('gives every code the status, transient flag and title of the registry', () => {
    const rows = tableRows(readFileSync(fileURLToPath(ERRORS_DOC_URL), 'utf8'));
    expect(rows.length).toBe(ERROR_CODES.length);
    expect(disagreements(rows)).toEqual([]);
  });

  it('uses a check that notices a wrong status, transient flag or title', () => {
    const row = (code: ErrorCode, status: string, transient: string, title: string) => `| \`${code}\` | ${status} | ${transient} | ${title} | when |`;
    const right = ERROR_CODES.map((code) => row(code, String(ERRORS[code].status), ERRORS[code].transient ? 'yes' : 'no', ERRORS[code].title)).join('\n');
    expect(disagreements(tableRows(right))).toEqual([]);
    const { status, title } = ERRORS.INTERNAL_ERROR;
    expect(disagreements(tableRows(row('INTERNAL_ERROR', '503', 'yes', title)))).toEqual([`INTERNAL_ERROR status: 503 ≠ ${status}`]);
    expect(disagreements(tableRows(row('INTERNAL_ERROR', String(status), 'no', title)))).toEqual(['INTERNAL_ERROR transient: no ≠ yes']);
    expect(disagreements(tableRows(row('INTERNAL_ERROR', String(status), 'yes', 'Oops')))).toEqual([`INTERNAL_ERROR title: Oops ≠ ${title}`]);
    expect(disagreements(tableRows(row('INTERNAL_ERROR', String(status), '', title)))).toEqual(['INTERNAL_ERROR transient:  ≠ yes']);
  });
});
