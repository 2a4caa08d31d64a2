import { describe, expect, it } from 'vitest';
import type { CartLine } from '../api/types.js';
import { groupByStore } from './cart.js';

const line = (productId: string, sellerId: string, storeName: string): CartLine => ({
  productId,
  name: productId,
  sellerId,
  storeName,
  unitPriceWon: 1_000,
  quantity: 1,
  lineTotalWon: 1_000,
  stock: 5,
  available: true,
  imageUrl: null,
});

describe('groupByStore', () => {
  it('groups lines by seller, keeping the cart’s order of stores and of lines', () => {
    const groups = groupByStore([line('a', 's1', '코코넛 마트'), line('b', 's2', 'JOONGBU'), line('c', 's1', '코코넛 마트'), line('d', 's3', '세 번째')]);
    expect(groups.map((g) => [g.sellerId, g.storeName, g.lines.map((l) => l.productId)])).toEqual([
      ['s1', '코코넛 마트', ['a', 'c']],
      ['s2', 'JOONGBU', ['b']],
      ['s3', '세 번째', ['d']],
    ]);
  });

  it('keeps stores with the same name apart: the seller decides, not the name', () => {
    expect(groupByStore([line('a', 's1', 'Same'), line('b', 's2', 'Same')])).toHaveLength(2);
  });

  it('gives nothing for an empty cart', () => {
    expect(groupByStore([])).toEqual([]);
  });
});
