/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  closedPaletteGroups,
  groupPaletteEntries,
  togglePaletteGroup
} from '../editor/paletteState';

describe('node palette groups', () => {
  it('groups node types by category in first-seen order, without hidden ones', () => {
    const types = [
      { op: 'notebook', category: 'Files' },
      { op: 'bash', category: 'Airflow operators' },
      { op: 'alias', category: 'Airflow operators', hidden: true },
      { op: 'python', category: 'Files' },
      { op: 'other' }
    ];
    const groups = groupPaletteEntries(types, 'Nodes');
    expect(
      groups.map(([name, members]) => [name, members.map(t => t.op)])
    ).toEqual([
      ['Files', ['notebook', 'python']],
      ['Airflow operators', ['bash']],
      ['Nodes', ['other']]
    ]);
  });

  it('folds a group on a click on its heading and unfolds it on the next', () => {
    const once = togglePaletteGroup([], 'Airflow operators');
    expect(once).toEqual(['Airflow operators']);
    expect(togglePaletteGroup(['Files', ...once], 'Airflow operators')).toEqual(
      ['Files']
    );
  });

  it('reads folded groups from settings, dropping what is not a group name', () => {
    expect(closedPaletteGroups(['Files', 'Files', '', 3, null, 'KFP'])).toEqual(
      ['Files', 'KFP']
    );
    expect(closedPaletteGroups('Files')).toEqual([]);
    expect(closedPaletteGroups(undefined)).toEqual([]);
  });
});
