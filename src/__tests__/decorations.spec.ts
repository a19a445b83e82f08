/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { NodeDecorations } from '../editor/decorations';

describe('node decorations', () => {
  it('emits only when a badge really changes', () => {
    const decorations = new NodeDecorations();
    let changes = 0;
    decorations.changed.connect(() => changes++);
    const running = new Map([
      ['a', { status: 'running', label: 'running' }],
      ['b', { status: 'queued', label: 'queued' }]
    ]);
    decorations.set(running);
    expect(changes).toBe(1);
    decorations.set(new Map(running));
    expect(changes).toBe(1);
    decorations.set(
      new Map([
        ['a', { status: 'success', label: 'succeeded', title: '3 s' }],
        ['b', { status: 'queued', label: 'queued' }]
      ])
    );
    expect(changes).toBe(2);
    expect(decorations.get('a')?.status).toBe('success');
    decorations.clear();
    expect(changes).toBe(3);
    expect(decorations.size).toBe(0);
    decorations.clear();
    expect(changes).toBe(3);
  });
});
