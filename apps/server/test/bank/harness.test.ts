/** The bank test's schedule comes from its seed alone: the same seed, the same draws. */
import { describe, expect, it } from 'vitest';
import { seededRandom } from './harness.js';

describe('bank test schedule', () => {
  it('draws the same sequence from the same seed, and another from another seed', () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, () => random());
    };
    expect(draw(907019894)).toEqual(draw(907019894));
    expect(draw(907019894)).not.toEqual(draw(907019895));
    for (const x of draw(1)) expect(x >= 0 && x < 1).toBe(true);
  });
});
