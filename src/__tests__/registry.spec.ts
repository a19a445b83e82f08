/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { fileIcon, notebookIcon } from '@jupyterlab/ui-components';

import { nodeIcon, opForFile } from '../editor/nodeTypes';
import { PipelineEditorModel } from '../model/model';
import { createFormWidgets, createNodeTypes } from '../plugins/registry';
import { SubmitFollowUps } from '../registry';

describe('node type registry', () => {
  it('holds the built-in types, in the palette order', () => {
    const types = createNodeTypes();
    expect(types.list().map(t => t.op)).toEqual([
      'execute-notebook-node',
      'execute-python-node',
      'execute-r-node',
      'mlpipe:serve-mlflow-model',
      'mlpipe:branch',
      'mlpipe:approval'
    ]);
    // control flow nodes are a palette group of their own and run no file
    expect(types.category(types.get('mlpipe:branch')!)).toBe('Control flow');
    expect(types.category(types.get('mlpipe:approval')!)).toBe('Control flow');
    expect(types.runsFile('mlpipe:branch')).toBe(false);
    expect(types.runsFile('mlpipe:approval')).toBe(false);
    expect(opForFile(types, 'a/b/train.ipynb')).toBe('execute-notebook-node');
    expect(opForFile(types, 'x/run.R')).toBe('execute-r-node');
    expect(opForFile(types, 'x/.py')).toBeNull();
    expect(opForFile(types, 'data.csv')).toBeNull();
    expect(nodeIcon(types, 'execute-notebook-node')).toBe(notebookIcon);
    expect(nodeIcon(types, 'nope')).toBe(fileIcon);
  });

  it('takes node types from other plugins, grouped by category, until disposed', () => {
    const types = createNodeTypes();
    let changes = 0;
    types.changed.connect(() => changes++);
    const bash = types.add({
      op: 'airflow-operator:BashOperator',
      title: 'Bash',
      icon: fileIcon,
      category: 'Airflow operators',
      rank: 2
    });
    const sql = types.add({
      op: 'airflow-operator:SQLExecuteQueryOperator',
      title: 'SQL',
      icon: fileIcon,
      category: 'Airflow operators',
      rank: 1,
      extensions: ['.sql']
    });
    expect(changes).toBe(2);
    expect(
      types
        .list()
        .map(t => t.op)
        .slice(-2)
    ).toEqual([
      'airflow-operator:SQLExecuteQueryOperator',
      'airflow-operator:BashOperator'
    ]);
    expect(types.runsFile('airflow-operator:BashOperator')).toBe(false);
    // a file a plugin's type runs is added as that type
    const model = new PipelineEditorModel({
      path: 'p.pipeline',
      opForPath: path => opForFile(types, path)
    });
    model.fromString(
      JSON.stringify({
        doc_type: 'pipeline',
        version: '3.0',
        primary_pipeline: 'p',
        pipelines: [{ id: 'p', nodes: [], app_data: {} }]
      })
    );
    expect(model.addFiles(['q.sql', 'a.py'], { x: 0, y: 0 })).toHaveLength(2);
    expect(model.nodes.map(n => n.op)).toEqual([
      'airflow-operator:SQLExecuteQueryOperator',
      'execute-python-node'
    ]);
    bash.dispose();
    sql.dispose();
    expect(types.get('airflow-operator:BashOperator')).toBeUndefined();
    expect(types.list()).toHaveLength(6);
    model.dispose();
  });
});

describe('form widget registry', () => {
  it('names every widget the schemas annotate, and takes more', () => {
    const widgets = createFormWidgets();
    for (const name of [
      'file',
      'runtime-image',
      'mlflow-model',
      'mlflow-version',
      'mlflow-alias',
      'pipeline-parameters',
      'quantity',
      'scalar',
      'secret'
    ]) {
      expect(widgets.has(name)).toBe(true);
    }
    const before = widgets.widgets();
    const added = widgets.add('operator-arg', () => null);
    expect(widgets.widgets()).not.toBe(before); // forms see a new object and re-render
    expect(widgets.has('operator-arg')).toBe(true);
    added.dispose();
    expect(widgets.has('operator-arg')).toBe(false);
  });
});

describe('submit follow-ups', () => {
  it('lists follow-ups in the order added, until disposed', () => {
    const followUps = new SubmitFollowUps();
    const one = followUps.add({
      label: 'one',
      applies: () => true,
      run: async () => undefined
    });
    followUps.add({
      label: 'two',
      applies: () => true,
      run: async () => undefined
    });
    expect(followUps.list().map(f => f.label)).toEqual(['one', 'two']);
    one.dispose();
    expect(followUps.list().map(f => f.label)).toEqual(['two']);
  });
});
