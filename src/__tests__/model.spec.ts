/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import * as fs from 'fs';
import * as path from 'path';

import { newPipelineContent } from '../pipelineFile';
import {
  createNode,
  nodeLabel,
  nodeLinks,
  opForPath,
  relativePath,
  resolvePath
} from '../model/elyra';
import { cycleThrough, topologicalOrder } from '../model/graph';
import { mergeInto, PipelineEditorModel } from '../model/model';
import { renderMessage } from '../model/messages';

const FIXTURES = path.join(__dirname, '..', '..', 'tests', 'fixtures', 'elyra');

function fixture(name: string): string {
  return fs.readFileSync(
    path.join(FIXTURES, name, `${name}.pipeline`),
    'utf-8'
  );
}

/** A model on an empty pipeline in `folder`, with a controllable clock. */
function emptyModel(folder = 'work'): {
  model: PipelineEditorModel;
  clock: { now: number };
} {
  const clock = { now: 1000 };
  const model = new PipelineEditorModel({
    path: `${folder}/p.pipeline`,
    now: () => clock.now
  });
  model.fromString(newPipelineContent('p'));
  return { model, clock };
}

/** Three unconnected Python nodes a, b, c. */
function threeNodes(): { model: PipelineEditorModel; ids: string[] } {
  const { model } = emptyModel();
  const ids = ['a', 'b', 'c'].map((name, i) =>
    model.addNode({
      op: 'execute-python-node',
      filename: `${name}.py`,
      x: i * 200,
      y: 0,
      id: name
    })
  );
  return { model, ids };
}

describe('elyra helpers', () => {
  it('maps file extensions to node types', () => {
    expect(opForPath('x/prep.ipynb')).toBe('execute-notebook-node');
    expect(opForPath('train.py')).toBe('execute-python-node');
    expect(opForPath('plot.R')).toBe('execute-r-node');
    expect(opForPath('plot.r')).toBe('execute-r-node');
    expect(opForPath('data.csv')).toBeNull();
    expect(opForPath('.py')).toBeNull();
  });

  it('computes paths relative to the pipeline folder and back', () => {
    expect(relativePath('a/b', 'a/b/x.py')).toBe('x.py');
    expect(relativePath('a/b', 'a/c/x.py')).toBe('../c/x.py');
    expect(relativePath('', 'dir/x.py')).toBe('dir/x.py');
    expect(relativePath('a', 'x.py')).toBe('../x.py');
    expect(resolvePath('a/b', '../c/x.py')).toBe('a/c/x.py');
    expect(resolvePath('', 'x.py')).toBe('x.py');
    expect(resolvePath('a', './sub/../x.py')).toBe('a/x.py');
  });

  it('creates nodes the way Elyra writes them', () => {
    const node = createNode({
      op: 'execute-notebook-node',
      filename: 'sub/prep.ipynb',
      x: 10.4,
      y: 20.6
    });
    expect(node.type).toBe('execution_node');
    expect(node.app_data!.component_parameters).toEqual({
      filename: 'sub/prep.ipynb'
    });
    expect(node.app_data!.ui_data).toMatchObject({
      label: 'prep.ipynb',
      x_pos: 10,
      y_pos: 21
    });
    expect(node.inputs![0].id).toBe('inPort');
    expect(node.outputs![0].id).toBe('outPort');
    expect(nodeLabel(node)).toBe('prep.ipynb');
  });
});

describe('graph', () => {
  const edges = [
    { source: 'a', target: 'b' },
    { source: 'b', target: 'c' }
  ];

  it('finds the cycle a new edge would close', () => {
    expect(cycleThrough(edges, 'c', 'a')).toEqual(['c', 'a', 'b', 'c']);
    expect(cycleThrough(edges, 'b', 'a')).toEqual(['b', 'a', 'b']);
    expect(cycleThrough(edges, 'a', 'a')).toEqual(['a', 'a']);
    expect(cycleThrough(edges, 'a', 'c')).toBeNull();
  });

  it('orders nodes topologically', () => {
    expect(topologicalOrder(['c', 'b', 'a'], edges)).toEqual(['a', 'b', 'c']);
    expect(
      topologicalOrder(['a', 'b'], [...edges, { source: 'b', target: 'a' }])
    ).toBeNull();
  });
});

describe('PipelineEditorModel: loading and serialising', () => {
  it.each(['hello_world', 'props_demo'])(
    'round-trips the Elyra fixture %s losslessly',
    name => {
      const text = fixture(name);
      const model = new PipelineEditorModel({ path: `${name}/x.pipeline` });
      expect(model.fromString(text)).toBe(true);
      expect(JSON.parse(model.toString())).toEqual(JSON.parse(text));
      expect(model.toString().endsWith('}\n')).toBe(true);
    }
  );

  it('keeps unknown keys through edits', () => {
    const doc = JSON.parse(fixture('props_demo'));
    doc.custom_top = { keep: [1, 2, 3] };
    doc.pipelines[0].custom = 'pipeline extra';
    doc.pipelines[0].nodes[0].custom = { x: true };
    doc.pipelines[0].nodes[0].app_data.ui_data.image = 'data:image/svg+xml;...';
    doc.pipelines[0].app_data.ui_data.zoom = 1.5;
    const model = new PipelineEditorModel({ path: 'p/x.pipeline' });
    model.fromString(JSON.stringify(doc));

    const [first, second] = model.nodes.map(n => n.id);
    model.moveItems({ [first]: { x: 500, y: 400 } });
    model.setNodeData(first, { component_parameters: { cpu: 3 } });
    model.setNodeData(second, {
      mlpipe: { retries: 2 },
      label: 'World!'
    });
    model.addComment({ x: 1, y: 2, content: 'note' });

    const out = JSON.parse(model.toString());
    expect(out.custom_top).toEqual({ keep: [1, 2, 3] });
    expect(out.pipelines[0].custom).toBe('pipeline extra');
    expect(out.pipelines[0].nodes[0].custom).toEqual({ x: true });
    expect(out.pipelines[0].nodes[0].app_data.ui_data).toMatchObject({
      image: 'data:image/svg+xml;...',
      x_pos: 500,
      y_pos: 400
    });
    expect(out.pipelines[0].app_data.ui_data.zoom).toBe(1.5);
    const params = out.pipelines[0].nodes[0].app_data.component_parameters;
    expect(params.cpu).toBe(3);
    // everything else of the node's properties is untouched
    expect(params.kubernetes_tolerations).toEqual(
      doc.pipelines[0].nodes[0].app_data.component_parameters
        .kubernetes_tolerations
    );
    expect(out.pipelines[0].nodes[1].app_data.mlpipe).toEqual({ retries: 2 });
    expect(out.pipelines[0].nodes[1].app_data.label).toBe('World!');
    expect(out.pipelines[0].nodes[1].app_data.ui_data.label).toBe('World!');
    expect(out.pipelines[0].app_data.ui_data.comments).toHaveLength(1);
  });

  it('reports text that is not a pipeline and keeps no document', () => {
    const model = new PipelineEditorModel();
    expect(model.fromString('{ nope')).toBe(false);
    expect(model.error).toMatch(/not valid JSON/);
    expect(model.document).toBeNull();
    expect(model.fromString('{"a": 1}')).toBe(false);
    expect(model.error).toMatch(/pipelines/);
    expect(model.fromString('')).toBe(false);
    expect(
      model.addNode({ op: 'execute-python-node', filename: 'x.py', x: 0, y: 0 })
    ).toBe('');
    expect(model.toString()).toBe('');
  });

  it('reads links from the target input port and legacy nodes', () => {
    const model = new PipelineEditorModel({ path: 'h/h.pipeline' });
    model.fromString(fixture('hello_world'));
    expect(model.links).toEqual([
      {
        id: '247bb614-8acd-4cd9-a6f8-f990c7692038',
        source: '11111111-aaaa-4aaa-8aaa-000000000001',
        target: '22222222-bbbb-4bbb-8bbb-000000000002'
      }
    ]);
    const legacy = {
      id: 'old',
      type: 'execution_node',
      op: 'execute-python-node',
      app_data: { filename: 'old.py', runtime_image: 'img', ui_data: {} }
    };
    expect(nodeLabel(legacy)).toBe('old.py');
    expect(nodeLinks(legacy)).toEqual([]);
  });
});

describe('PipelineEditorModel: graph edits', () => {
  it('adds nodes for dropped files relative to the pipeline folder', () => {
    const { model } = emptyModel('proj/pipes');
    const ids = model.addFiles(
      ['proj/pipes/a.py', 'proj/nb/b.ipynb', 'proj/data.csv', 'proj/c.R'],
      { x: 10, y: 20 }
    );
    expect(ids).toHaveLength(3);
    const nodes = model.nodes;
    expect(nodes.map(n => n.op)).toEqual([
      'execute-python-node',
      'execute-notebook-node',
      'execute-r-node'
    ]);
    expect(nodes.map(n => n.app_data!.component_parameters.filename)).toEqual([
      'a.py',
      '../nb/b.ipynb',
      '../c.R'
    ]);
    expect(nodes.map(n => n.app_data!.ui_data.y_pos)).toEqual([20, 120, 220]);
    expect([...model.selection]).toEqual(ids);
    expect(model.canUndo).toBe(true);
    model.undo();
    expect(model.nodes).toHaveLength(0);
  });

  it('connects nodes on the target input port', () => {
    const { model, ids } = threeNodes();
    const result = model.connect('a', 'b');
    expect(result.ok).toBe(true);
    const b = model.node('b')!;
    expect(b.inputs![0].links).toEqual([
      {
        id: (result as { linkId: string }).linkId,
        node_id_ref: 'a',
        port_id_ref: 'outPort'
      }
    ]);
    expect(model.links.map(l => [l.source, l.target])).toEqual([['a', 'b']]);
    expect(ids).toEqual(['a', 'b', 'c']);
  });

  it('refuses cycles, self links and duplicates, and says why', () => {
    const { model } = threeNodes();
    const notices: string[] = [];
    model.notice.connect((_, message) => notices.push(renderMessage(message)));
    model.connect('a', 'b');
    model.connect('b', 'c');
    const version = model.version;

    const cycle = model.connect('c', 'a');
    expect(cycle.ok).toBe(false);
    expect(cycle).toMatchObject({
      reason: 'cycle',
      cycle: ['c', 'a', 'b', 'c']
    });
    expect(notices[0]).toBe(
      "Connecting 'c.py' to 'a.py' would create a cycle (c.py → a.py → b.py → c.py); " +
        'a pipeline must not loop back on itself.'
    );
    expect(model.connect('a', 'a')).toMatchObject({
      ok: false,
      reason: 'self'
    });
    expect(model.connect('a', 'b')).toMatchObject({
      ok: false,
      reason: 'duplicate'
    });
    expect(model.connect('a', 'zzz')).toMatchObject({
      ok: false,
      reason: 'missing'
    });
    expect(notices).toHaveLength(4);
    expect(model.version).toBe(version);
    expect(model.links).toHaveLength(2);
    expect(model.canConnect('a', 'c').ok).toBe(true);
  });

  it('deletes nodes with their links and comment references', () => {
    const { model } = threeNodes();
    model.connect('a', 'b');
    model.connect('b', 'c');
    const comment = model.addComment({ x: 0, y: 0, nodeRefs: ['b', 'c'] });
    model.select(['b']);
    expect(model.removeSelection()).toBe(1);
    expect(model.nodes.map(n => n.id)).toEqual(['a', 'c']);
    expect(model.links).toEqual([]);
    expect(model.comments[0].id).toBe(comment);
    expect(model.comments[0].associated_id_refs!.map(r => r.node_ref)).toEqual([
      'c'
    ]);
    expect(model.selection.size).toBe(0);
    expect(model.undoLabel).toBe('Delete node');
  });

  it('deletes links alone', () => {
    const { model } = threeNodes();
    const link = model.connect('a', 'b') as { linkId: string };
    expect(model.removeItems([link.linkId])).toBe(1);
    expect(model.nodes).toHaveLength(3);
    expect(model.links).toEqual([]);
    expect(model.undoLabel).toBe('Delete link');
  });

  it('moves nodes and comments', () => {
    const { model } = threeNodes();
    const comment = model.addComment({ x: 5, y: 5 });
    expect(
      model.moveItems({ a: { x: 11.2, y: 22.7 }, [comment]: { x: 1, y: 2 } })
    ).toBe(true);
    expect(model.node('a')!.app_data!.ui_data).toMatchObject({
      x_pos: 11,
      y_pos: 23
    });
    expect(model.comments[0]).toMatchObject({ x_pos: 1, y_pos: 2 });
    expect(model.moveItems({ a: { x: 11, y: 23 } })).toBe(false);
  });

  it('copies and pastes nodes with fresh ids, internal links only', () => {
    const { model } = threeNodes();
    model.connect('a', 'b');
    model.connect('b', 'c');
    const fragment = model.copy(['b', 'c']);
    const pasted = model.paste(fragment, { x: 10, y: 100 });
    expect(pasted).toHaveLength(2);
    expect(model.nodes).toHaveLength(5);
    const [b2, c2] = pasted.map(id => model.node(id)!);
    expect(b2.app_data!.ui_data).toMatchObject({ x_pos: 210, y_pos: 100 });
    // b2 had a link from a: dropped; c2 keeps its link from b, remapped to b2
    expect(nodeLinks(b2)).toEqual([]);
    expect(nodeLinks(c2).map(l => l.source)).toEqual([b2.id]);
    expect([...model.selection].sort()).toEqual([...pasted].sort());
  });

  it('re-bases file names when pasting into another folder', () => {
    const { model: source } = emptyModel('one');
    source.addNode({ op: 'execute-python-node', filename: 'x.py', x: 0, y: 0 });
    const fragment = source.copy(source.nodes.map(n => n.id));
    const { model: target } = emptyModel('two/deeper');
    target.paste(fragment);
    expect(target.nodes[0].app_data!.component_parameters.filename).toBe(
      '../../one/x.py'
    );
  });

  it('clears everything in one undoable step', () => {
    const { model } = threeNodes();
    model.connect('a', 'b');
    model.addComment({ x: 0, y: 0 });
    const before = model.toString();
    expect(model.clear()).toBe(true);
    expect(model.isEmpty).toBe(true);
    expect(model.clear()).toBe(false);
    model.undo();
    expect(model.toString()).toBe(before);
  });

  it('edits and sizes comments', () => {
    const { model } = threeNodes();
    const id = model.addComment({
      x: 0,
      y: 0,
      content: 'hi',
      nodeRefs: ['a', 'nope']
    });
    expect(model.comments[0].associated_id_refs!.map(r => r.node_ref)).toEqual([
      'a'
    ]);
    model.updateComment(id, { content: 'hello', width: 300.4 });
    expect(model.comments[0]).toMatchObject({ content: 'hello', width: 300 });
    expect(model.updateComment(id, { content: 'hello' })).toBe(false);
  });
});

describe('PipelineEditorModel: properties', () => {
  it('merges node properties, removing keys set to undefined', () => {
    const model = new PipelineEditorModel({ path: 'p/x.pipeline' });
    model.fromString(fixture('props_demo'));
    const id = model.nodes[0].id;
    model.setNodeData(id, {
      component_parameters: { cpu: undefined, memory: '512Mi' },
      mlpipe: { trigger_rule: 'all_done' },
      description: 'Says hello'
    });
    const data = model.nodeData(id)!;
    expect(data.component_parameters!.cpu).toBeUndefined();
    expect('cpu' in data.component_parameters!).toBe(false);
    expect(data.component_parameters!.memory).toBe('512Mi');
    expect(data.component_parameters!.filename).toBe('hello.py');
    expect(data.mlpipe).toEqual({ trigger_rule: 'all_done' });
    expect(data.description).toBe('Says hello');
  });

  it('does not create empty mlpipe objects', () => {
    const { model } = threeNodes();
    const version = model.version;
    expect(model.setNodeData('a', { mlpipe: {} })).toBe(false);
    expect(model.node('a')!.app_data!.mlpipe).toBeUndefined();
    expect(model.version).toBe(version);
  });

  it('writes legacy nodes back where they keep their properties', () => {
    const doc = JSON.parse(newPipelineContent('p'));
    doc.pipelines[0].nodes.push({
      id: 'old',
      type: 'execution_node',
      op: 'execute-python-node',
      app_data: { filename: 'old.py', runtime_image: 'img', ui_data: {} }
    });
    const model = new PipelineEditorModel({ path: 'x.pipeline' });
    model.fromString(JSON.stringify(doc));
    expect(model.nodeData('old')!.component_parameters).toEqual({
      filename: 'old.py',
      runtime_image: 'img'
    });
    model.setNodeData('old', {
      component_parameters: { runtime_image: 'new' }
    });
    expect(model.node('old')!.app_data).toMatchObject({
      filename: 'old.py',
      runtime_image: 'new'
    });
    expect(model.node('old')!.app_data!.component_parameters).toBeUndefined();
  });

  it('edits pipeline properties, defaults and mlpipe settings', () => {
    const { model } = emptyModel();
    model.setPipelineData({
      properties: {
        description: 'Demo',
        pipeline_defaults: { runtime_image: 'python:3.11' }
      },
      mlpipe: { schedule: '@daily' }
    });
    const appData = model.pipeline!.app_data!;
    expect(appData.properties).toEqual({
      name: 'p',
      runtime: 'Apache Airflow',
      description: 'Demo',
      pipeline_defaults: { runtime_image: 'python:3.11' }
    });
    expect(appData.mlpipe).toEqual({ schedule: '@daily' });
    expect(model.pipelineData().mlpipe).toEqual({ schedule: '@daily' });
    expect(model.name).toBe('p');
  });

  it('mergeInto merges nested objects and replaces arrays', () => {
    const target = { a: { b: 1, c: [1, 2] }, d: 1 };
    mergeInto(target, { a: { c: [3] }, d: undefined, e: { f: 1 } });
    expect(target).toEqual({ a: { b: 1, c: [3] }, e: { f: 1 } });
  });
});

describe('PipelineEditorModel: undo and redo', () => {
  it('undoes and redoes every kind of edit', () => {
    const { model } = emptyModel();
    const states: string[] = [model.toString()];
    const step = (fn: () => void) => {
      fn();
      states.push(model.toString());
    };
    step(() =>
      model.addNode({
        op: 'execute-python-node',
        filename: 'a.py',
        x: 0,
        y: 0,
        id: 'a'
      })
    );
    step(() =>
      model.addNode({
        op: 'execute-python-node',
        filename: 'b.py',
        x: 200,
        y: 0,
        id: 'b'
      })
    );
    step(() => model.connect('a', 'b'));
    step(() => model.moveItems({ b: { x: 300, y: 50 } }));
    step(() => model.setNodeData('a', { component_parameters: { cpu: 1 } }));
    model.breakMerge();
    step(() => model.setPipelineData({ mlpipe: { retries: 3 } }));
    step(() => model.addComment({ x: 0, y: 0, content: 'c' }));
    step(() => model.paste(model.copy(['a'])));
    step(() => model.removeItems(['b']));
    step(() => model.clear());
    expect(new Set(states).size).toBe(states.length);

    for (let i = states.length - 2; i >= 0; i--) {
      expect(model.undo()).toBe(true);
      expect(model.toString()).toBe(states[i]);
    }
    expect(model.canUndo).toBe(false);
    expect(model.undo()).toBe(false);
    for (let i = 1; i < states.length; i++) {
      expect(model.redo()).toBe(true);
      expect(model.toString()).toBe(states[i]);
    }
    expect(model.canRedo).toBe(false);
  });

  it('a new edit clears the redo stack', () => {
    const { model } = threeNodes();
    model.undo();
    expect(model.canRedo).toBe(true);
    model.moveItems({ a: { x: 1, y: 1 } });
    expect(model.canRedo).toBe(false);
  });

  it('merges quick edits of the same field into one step', () => {
    const { model, clock } = emptyModel();
    model.addNode({
      op: 'execute-python-node',
      filename: 'a.py',
      x: 0,
      y: 0,
      id: 'a'
    });
    model.breakMerge();
    const start = model.toString();
    for (const label of ['W', 'Wo', 'Wor']) {
      clock.now += 200;
      model.setNodeData('a', { label });
    }
    clock.now += 5000;
    model.setNodeData('a', { label: 'World' });
    expect(model.nodeData('a')!.label).toBe('World');
    model.undo();
    expect(model.nodeData('a')!.label).toBe('Wor');
    model.undo();
    expect(model.toString()).toBe(start);
  });

  it('keeps only existing ids selected after undo', () => {
    const { model } = threeNodes();
    model.select(['c']);
    const selections: number[] = [];
    model.selectionChanged.connect((_, s) => selections.push(s.size));
    model.undo(); // removes c
    expect(model.selection.size).toBe(0);
    expect(selections).toEqual([0]);
  });

  it('signals changes with their kind and label', () => {
    const { model } = emptyModel();
    const changes: string[] = [];
    model.contentChanged.connect((_, c) =>
      changes.push(`${c.kind}:${c.label ?? ''}`)
    );
    model.addNode({ op: 'execute-r-node', filename: 'x.r', x: 0, y: 0 });
    model.undo();
    model.redo();
    model.fromString(newPipelineContent('q'));
    expect(changes).toEqual([
      'edit:Add node',
      'undo:Add node',
      'redo:Add node',
      'load:'
    ]);
    expect(model.canUndo).toBe(false);
  });

  it('caps the history', () => {
    const model = new PipelineEditorModel({ maxHistory: 3 });
    model.fromString(newPipelineContent('p'));
    for (let i = 0; i < 5; i++) {
      model.addNode({
        op: 'execute-python-node',
        filename: `${i}.py`,
        x: 0,
        y: 0
      });
    }
    let undone = 0;
    while (model.undo()) {
      undone++;
    }
    expect(undone).toBe(3);
    expect(model.nodes).toHaveLength(2);
  });
});

describe('PipelineEditorModel: selection and problems', () => {
  it('selects, adds to and selects all', () => {
    const { model } = threeNodes();
    const comment = model.addComment({ x: 0, y: 0 });
    model.select(['a']);
    expect(model.selectedNode!.id).toBe('a');
    model.select(['b'], true);
    expect(model.selectedNode).toBeNull();
    model.selectAll();
    expect([...model.selection].sort()).toEqual(
      ['a', 'b', 'c', comment].sort()
    );
  });

  it('stores problems and finds those of a node', () => {
    const { model } = threeNodes();
    const emitted: number[] = [];
    model.problemsChanged.connect((_, p) => emitted.push(p.length));
    const problems = [
      {
        message: 'no image',
        node_id: 'a',
        path: 'component_parameters/runtime_image'
      },
      { message: 'pipeline', path: 'mlpipe/schedule' }
    ];
    model.setProblems(problems);
    model.setProblems([...problems]);
    expect(emitted).toEqual([2]);
    expect(model.nodeProblems('a')).toHaveLength(1);
    expect(model.nodeProblems('b')).toHaveLength(0);
  });
});
