/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  distinctLabels,
  followsFile,
  nameAfterRename,
  nameOfAnotherFile
} from '../editor/naming';
import { PipelineEditorModel } from '../model/model';
import { pipelineChoices } from '../plugins/fileActions';

describe('pipeline names follow the file', () => {
  it('renames a pipeline whose name was its file name or a placeholder', () => {
    expect(
      nameAfterRename('untitled', 'untitled.pipeline', 'churn.pipeline')
    ).toBe('churn');
    expect(
      nameAfterRename('untitled3', 'a/untitled3.pipeline', 'a/x.pipeline')
    ).toBe('x');
    expect(
      nameAfterRename('train', 'iris/train.pipeline', 'iris/fit.pipeline')
    ).toBe('fit');
    expect(nameAfterRename('', 'a.pipeline', 'b.pipeline')).toBe('b');
    // moved to another folder, same file name: nothing to do
    expect(
      nameAfterRename('train', 'a/train.pipeline', 'b/train.pipeline')
    ).toBeNull();
    // a name of the user's own stays
    expect(
      nameAfterRename(
        'Nightly churn model',
        'untitled.pipeline',
        'churn.pipeline'
      )
    ).toBeNull();
    expect(followsFile('Untitled1', 'x.pipeline')).toBe(true);
    expect(followsFile('hello', 'hello-Copy1.pipeline')).toBe(false);
  });

  it('finds the file a copied pipeline is still named after', () => {
    const siblings = ['hello.pipeline', 'hello-Copy1.pipeline', 'hello.py'];
    expect(nameOfAnotherFile('hello', 'p/hello-Copy1.pipeline', siblings)).toBe(
      'hello.pipeline'
    );
    expect(nameOfAnotherFile('hello', 'p/hello.pipeline', siblings)).toBeNull();
    expect(
      nameOfAnotherFile('other', 'p/hello-Copy1.pipeline', siblings)
    ).toBeNull();
    // a script of that name is no pipeline
    expect(nameOfAnotherFile('hello', 'p/x.pipeline', ['hello.py'])).toBeNull();
  });

  it('labels tabs with as many folders as it takes to tell them apart', () => {
    const labels = distinctLabels([
      'iris/train.pipeline',
      'churn/train.pipeline',
      'hello.pipeline',
      'a/x/p.pipeline',
      'b/x/p.pipeline'
    ]);
    expect([...labels.values()]).toEqual([
      'iris/train.pipeline',
      'churn/train.pipeline',
      'hello.pipeline',
      'a/x/p.pipeline',
      'b/x/p.pipeline'
    ]);
    expect(
      distinctLabels(['a/one.pipeline', 'b/two.pipeline']).get('a/one.pipeline')
    ).toBe('one.pipeline');
  });
});

describe('Add to pipeline', () => {
  const notes = { here: 'here', hereOpen: 'here, open', open: 'open' };

  it("offers the pipelines of the file's folder first, an open one preselected", () => {
    const { choices, initial } = pipelineChoices(
      'iris',
      ['iris/b.pipeline', 'iris/a.pipeline'],
      ['other/x.pipeline', 'iris/b.pipeline'],
      notes
    );
    expect(choices).toEqual([
      { path: 'iris/b.pipeline', note: 'here, open' },
      { path: 'iris/a.pipeline', note: 'here' },
      { path: 'other/x.pipeline', note: 'open' }
    ]);
    expect(initial).toBe('iris/b.pipeline');
    // nothing open here: the folder's first pipeline, before pipelines open elsewhere
    expect(
      pipelineChoices('iris', ['iris/a.pipeline'], ['other/x.pipeline'], notes)
        .initial
    ).toBe('iris/a.pipeline');
  });

  it('knows the nodes that already run a file', () => {
    const model = new PipelineEditorModel({ path: 'iris/p.pipeline' });
    model.fromString(
      JSON.stringify({
        doc_type: 'pipeline',
        version: '3.0',
        primary_pipeline: 'p',
        pipelines: [{ id: 'p', nodes: [], app_data: {} }]
      })
    );
    model.addFiles(['iris/train.ipynb'], { x: 0, y: 0 });
    expect(model.nodesOfFile('iris/train.ipynb')).toHaveLength(1);
    expect(model.nodesOfFile('iris/./train.ipynb')).toHaveLength(1);
    expect(model.nodesOfFile('train.ipynb')).toHaveLength(0);
    model.dispose();
  });
});
