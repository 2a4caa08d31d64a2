import { describe, expect, it } from 'vitest';
import { RETURN_TO_LENGTH_MAX, sameAppPath } from './use-return-to.js';

describe('sameAppPath', () => {
  it('accepts paths of this app, with a query', () => {
    expect(sameAppPath('/orders/0f8e1d2c-0000-4000-8000-000000000001/pay')).toBe('/orders/0f8e1d2c-0000-4000-8000-000000000001/pay');
    expect(sameAppPath('/checkout?product=abc&quantity=2')).toBe('/checkout?product=abc&quantity=2');
    expect(sameAppPath('/')).toBe('/');
  });

  it('refuses anything that could leave the app or is not a string', () => {
    for (const value of [
      'https://evil.example/orders/1/pay',
      '//evil.example/x',
      '/\\evil.example/x',
      '/orders\\..\\..\\x',
      'javascript:alert(1)',
      'orders/1/pay',
      '/orders/1/pay#top',
      '/orders/1/pay\n//evil.example',
      '/ orders',
      '/orders/%2e%2e/x',
      '/orders/../../x',
      '',
      undefined,
      null,
      ['/orders/1/pay'],
      42,
      `/${'a'.repeat(RETURN_TO_LENGTH_MAX)}`,
    ]) {
      expect(sameAppPath(value), String(value)).toBeNull();
    }
  });
});
