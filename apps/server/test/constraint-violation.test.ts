import { describe, expect, it } from 'vitest';
import { constraintViolation, refusal } from './constraint-violation.js';

describe('constraintViolation', () => {
  it('reads a CHECK name as each engine reports it', () => {
    expect(constraintViolation({ code: 'SQLITE_CONSTRAINT_CHECK', message: 'CHECK constraint failed: postings_amount_check' })).toEqual({ kind: 'check', constraint: 'postings_amount_check' });
    expect(constraintViolation({ code: '23514', constraint: 'postings_amount_check' })).toEqual({ kind: 'check', constraint: 'postings_amount_check' });
    expect(constraintViolation({ errno: 4025, sqlMessage: 'CONSTRAINT `postings_amount_check` failed for `db`.`postings`' })).toEqual({ kind: 'check', constraint: 'postings_amount_check' });
  });

  it('knows unique, foreign-key and not-null violations, and nothing else', () => {
    expect(constraintViolation({ code: 'ER_DUP_ENTRY', errno: 1062 })).toEqual({ kind: 'unique' });
    expect(constraintViolation({ code: '23503' })).toEqual({ kind: 'foreign_key' });
    expect(constraintViolation({ code: 'SQLITE_CONSTRAINT_NOTNULL' })).toEqual({ kind: 'not_null' });
    for (const other of [null, undefined, 'CHECK constraint failed: x', new Error('boom'), { code: 'SQLITE_CONSTRAINT_CHECK', message: 'no name' }, { code: '23514' }]) {
      expect(constraintViolation(other)).toBeUndefined();
    }
  });

  it('refusal fails on an accepted write and passes an unrelated error through', async () => {
    await expect(refusal(Promise.resolve())).rejects.toThrow('expected the database to refuse this write, but it was accepted');
    await expect(refusal(Promise.reject(new Error('connection lost')))).rejects.toThrow('connection lost');
    await expect(refusal(Promise.reject({ code: '23505' }))).resolves.toEqual({ kind: 'unique' });
  });
});
