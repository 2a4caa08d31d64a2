import { describe, expect, it } from 'vitest';
import { browserLocale, initialLocale } from './index.js';

describe('the first language', () => {
  it('is Korean for any Korean tag among the browser languages, in their order', () => {
    expect(browserLocale(['ko-KR', 'en-US'])).toBe('ko');
    expect(browserLocale(['ko'])).toBe('ko');
    expect(browserLocale(['KO-kr'])).toBe('ko');
    expect(browserLocale(['fr-FR', 'ko-KR', 'en'])).toBe('ko');
    expect(browserLocale(['en-GB', 'ko-KR'])).toBe('en');
  });

  it('is English otherwise, including an empty list', () => {
    expect(browserLocale(['en-US'])).toBe('en');
    expect(browserLocale(['ja-JP', 'zh-CN'])).toBe('en');
    expect(browserLocale([])).toBe('en');
    // A tag that merely starts with the letters is another language (Kok = Konkani).
    expect(browserLocale(['kok-IN'])).toBe('en');
  });

  it('is the remembered choice when there is one, whatever the browser says', () => {
    expect(initialLocale('en', ['ko-KR'])).toBe('en');
    expect(initialLocale('ko', ['en-US'])).toBe('ko');
    expect(initialLocale(null, ['ko-KR'])).toBe('ko');
    expect(initialLocale('fr', ['ko-KR'])).toBe('ko');
  });
});
