/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { layoutLeftToRight } from '../model/layout';

describe('layoutLeftToRight', () => {
  it('places a chain left to right and branches in separate rows', async () => {
    const nodes = ['a', 'b', 'c', 'd'].map(id => ({
      id,
      width: 180,
      height: 60
    }));
    const edges = [
      { source: 'a', target: 'b' },
      { source: 'a', target: 'c' },
      { source: 'b', target: 'd' },
      { source: 'c', target: 'd' },
      { source: 'zzz', target: 'a' }
    ];
    const positions = await layoutLeftToRight(nodes, edges, {
      origin: { x: 100, y: 50 }
    });
    const p = (id: string) => positions.get(id)!;
    expect(positions.size).toBe(4);
    expect(p('a').x).toBeLessThan(p('b').x);
    expect(p('b').x).toBe(p('c').x);
    expect(p('b').y).not.toBe(p('c').y);
    expect(p('d').x).toBeGreaterThan(p('b').x);
    expect(Math.min(...[...positions.values()].map(v => v.x))).toBe(100);
    expect(Math.min(...[...positions.values()].map(v => v.y))).toBe(50);
  });

  it('returns nothing for an empty graph', async () => {
    expect((await layoutLeftToRight([], [])).size).toBe(0);
  });
});
