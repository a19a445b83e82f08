/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  isPipelinePath,
  newPipelineContent,
  pipelineNameFromPath
} from '../pipelineFile';

describe('newPipelineContent', () => {
  it('is the canonical empty Airflow pipeline', () => {
    expect(JSON.parse(newPipelineContent('untitled'))).toEqual({
      doc_type: 'pipeline',
      version: '3.0',
      json_schema:
        'http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json',
      id: 'elyra-auto-generated-pipeline',
      primary_pipeline: 'primary',
      pipelines: [
        {
          id: 'primary',
          nodes: [],
          app_data: {
            ui_data: { comments: [] },
            version: 8,
            runtime_type: 'APACHE_AIRFLOW',
            properties: {
              name: 'untitled',
              runtime: 'Apache Airflow',
              pipeline_defaults: {}
            }
          },
          runtime_ref: ''
        }
      ],
      schemas: []
    });
  });

  it('keeps the key order and 2-space indent of Elyra files, newline-terminated', () => {
    const text = newPipelineContent('p');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(false);
    const lines = text.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      '{',
      '  "doc_type": "pipeline",',
      '  "version": "3.0",',
      '  "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json",',
      '  "id": "elyra-auto-generated-pipeline",',
      '  "primary_pipeline": "primary",',
      '  "pipelines": ['
    ]);
    expect(text).toContain('      "nodes": [],\n');
    expect(text).toContain('  "schemas": []\n}');
    const doc = JSON.parse(text);
    expect(Object.keys(doc.pipelines[0])).toEqual([
      'id',
      'nodes',
      'app_data',
      'runtime_ref'
    ]);
    expect(Object.keys(doc.pipelines[0].app_data)).toEqual([
      'ui_data',
      'version',
      'runtime_type',
      'properties'
    ]);
  });

  it.each([
    'say "hi"',
    'back\\slash',
    'tab\there\nnewline',
    'Pipeline für Daten ✓ 数据 🚀',
    "it's </script>",
    '{"name": 1}',
    ''
  ])('produces valid JSON for the name %j', name => {
    const doc = JSON.parse(newPipelineContent(name));
    expect(doc.pipelines[0].app_data.properties.name).toBe(name);
  });

  it('returns a fresh document on every call', () => {
    const a = JSON.parse(newPipelineContent('a'));
    a.pipelines[0].nodes.push({ id: 'n' });
    expect(JSON.parse(newPipelineContent('a')).pipelines[0].nodes).toEqual([]);
  });
});

describe('isPipelinePath', () => {
  it.each([
    ['untitled.pipeline', true],
    ['dir/sub/untitled1.pipeline', true],
    ['/abs/a.b.pipeline', true],
    ['UPPER.PIPELINE', true],
    ['my pipeline.pipeline', true],
    ['untitled.pipeline.json', false],
    ['untitled.pipelines', false],
    ['pipeline', false],
    ['.pipeline', false],
    ['dir/.pipeline', false],
    ['dir.pipeline/notes.txt', false],
    ['', false]
  ])('%j -> %s', (path, expected) => {
    expect(isPipelinePath(path)).toBe(expected);
  });
});

describe('pipelineNameFromPath', () => {
  it.each([
    ['untitled.pipeline', 'untitled'],
    ['dir/untitled1.pipeline', 'untitled1'],
    ['a.b.pipeline', 'a.b'],
    ['Mixed.Pipeline', 'Mixed'],
    ['notes.txt', 'notes.txt']
  ])('%j -> %j', (path, expected) => {
    expect(pipelineNameFromPath(path)).toBe(expected);
  });
});
