/**
 * ajv's `maxLength` and `minLength`, with the same meaning, errors and place among the
 * string keywords, but without counting every string's characters.
 *
 * ajv counts a string's length in code points (a surrogate pair is one character), and
 * does so with a loop over every UTF-16 unit of every string it checks: for a sealed
 * payment request or a signature, thousands of units, on every request. But a string's
 * code points are never more than its UTF-16 units nor fewer than half of them, so
 * `length` alone decides most checks: a string of at most `limit` units has at most
 * `limit` characters, and one of at least `2 × limit` units has at least `limit`. Only
 * in between are the characters counted, with ajv's own counter.
 * (string-length.test.ts checks both against ajv's keywords, on generated strings.)
 */
import { _, str, type Ajv, type KeywordCxt, type KeywordDefinition } from 'ajv';
import { useFunc } from 'ajv/dist/compile/util.js';
import ucs2lengthModule from 'ajv/dist/runtime/ucs2length.js';

// The CommonJS module arrives wrapped under ESM, as ajv-formats does in validation.ts.
const ucs2length = (ucs2lengthModule as unknown as { default: typeof ucs2lengthModule }).default ?? ucs2lengthModule;

export const stringLength: KeywordDefinition = {
  keyword: ['maxLength', 'minLength'],
  type: 'string',
  schemaType: 'number',
  $data: true,
  // Where ajv's own definition sits: its errors come in the same order.
  before: 'pattern',
  error: {
    message: ({ keyword, schemaCode }) => str`must NOT have ${keyword === 'maxLength' ? 'more' : 'fewer'} than ${schemaCode} characters`,
    params: ({ schemaCode }) => _`{limit: ${schemaCode}}`,
  },
  code(cxt: KeywordCxt) {
    const { keyword, data, schemaCode } = cxt;
    const count = useFunc(cxt.gen, ucs2length);
    cxt.fail$data(keyword === 'maxLength'
      ? _`${data}.length > ${schemaCode} && ${count}(${data}) > ${schemaCode}`
      : _`${data}.length < ${schemaCode} || (${data}.length < 2 * ${schemaCode} && ${count}(${data}) < ${schemaCode})`);
  },
};

/** Puts `stringLength` in the place of ajv's own two keywords. */
export function useStringLength(ajv: Ajv): void {
  ajv.removeKeyword('maxLength');
  ajv.removeKeyword('minLength');
  ajv.addKeyword(stringLength);
}
