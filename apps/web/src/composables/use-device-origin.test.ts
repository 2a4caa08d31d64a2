import { describe, expect, it } from 'vitest';
import { summarizeUserAgent } from './use-device-origin.js';

describe('summarizeUserAgent', () => {
  it('names common browsers and systems', () => {
    const cases: [string, { browser?: string; system?: string }][] = [
      ['Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', { browser: 'Chrome', system: 'Android' }],
      ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', { browser: 'Safari', system: 'iPhone' }],
      ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0', { browser: 'Edge', system: 'Windows' }],
      ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0', { browser: 'Firefox', system: 'macOS' }],
      ['Mozilla/5.0 (Linux; Android 14; SM-S918N) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36', { browser: 'Samsung Internet', system: 'Android' }],
      ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0.0.0 Safari/537.36', { browser: 'Chrome', system: 'Linux' }],
    ];
    for (const [agent, expected] of cases) expect(summarizeUserAgent(agent), agent).toEqual(expected);
  });

  it('says nothing it does not recognise', () => {
    expect(summarizeUserAgent(null)).toEqual({});
    expect(summarizeUserAgent('')).toEqual({});
    expect(summarizeUserAgent('curl/8.5.0')).toEqual({});
  });
});
