/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import * as fs from 'fs';
import * as path from 'path';

import { nodeLinks } from '../model/elyra';
import { PipelineEditorModel } from '../model/model';
import {
  BINDING,
  isExpanded,
  SUPER_NODE,
  supernodePreview
} from '../model/supernode';
import { newPipelineContent } from '../pipelineFile';

const CORPUS =
  process.env.MLPIPE_REALWORLD_CORPUS ??
  '/work/shared/fixtures/elyra-realworld';
const ELYRA_SUPERNODE = path.join(
  CORPUS,
  'elyra-ai__elyra/elyra/tests/pipeline/resources/validation_pipelines/kf_supernode_valid.pipeline'
);

/** a -> b -> c -> d, in a new pipeline. */
function chain(): { model: PipelineEditorModel; ids: string[] } {
  const model = new PipelineEditorModel({ path: 'p/x.pipeline' });
  model.fromString(newPipelineContent('chain'));
  const ids = ['a', 'b', 'c', 'd'].map((name, i) =>
    model.addNode({
      op: 'execute-python-node',
      filename: `${name}.py`,
      x: i * 250,
      y: 100,
      id: name
    })
  );
  model.connect('a', 'b');
  model.connect('b', 'c');
  model.connect('c', 'd');
  return { model, ids };
}

/** Every link of every pipeline, as "source:port->target:port". */
function allLinks(model: PipelineEditorModel): string[] {
  const out: string[] = [];
  for (const pipeline of model.document!.pipelines) {
    for (const node of pipeline.nodes) {
      for (const port of node.inputs ?? []) {
        for (const link of port.links ?? []) {
          out.push(
            `${link.node_id_ref}:${link.port_id_ref}->${node.id}:${port.id}`
          );
        }
      }
    }
  }
  return out.sort();
}

describe('supernodes', () => {
  it('groups a selection into an Elyra supernode with binding nodes', () => {
    const { model } = chain();
    const id = model.groupIntoSupernode(['b', 'c']);
    expect(id).toBeTruthy();
    expect(model.selection).toEqual(new Set([id]));
    const doc = JSON.parse(model.toString());
    expect(doc.pipelines).toHaveLength(2);
    const primary = doc.pipelines[0];
    const sub = doc.pipelines[1];
    expect(primary.nodes.map((n: any) => n.id).sort()).toEqual(
      ['a', 'd', id].sort()
    );
    const supernode = primary.nodes.find((n: any) => n.id === id);
    expect(supernode.type).toBe(SUPER_NODE);
    expect(supernode.subflow_ref.pipeline_id_ref).toBe(sub.id);
    // one input and one output port, each bound to a binding node inside
    expect(supernode.inputs).toHaveLength(1);
    expect(supernode.outputs).toHaveLength(1);
    const [inPort] = supernode.inputs;
    const [outPort] = supernode.outputs;
    expect(inPort.id).toBe('b_inPort');
    expect(inPort.links.map((l: any) => l.node_id_ref)).toEqual(['a']);
    expect(outPort.id).toBe('c_outPort');
    const bindings = sub.nodes.filter((n: any) => n.type === BINDING);
    expect(bindings).toHaveLength(2);
    const entry = sub.nodes.find((n: any) => n.id === inPort.subflow_node_ref);
    const exit = sub.nodes.find((n: any) => n.id === outPort.subflow_node_ref);
    expect(entry.outputs[0].id).toBe('output_b_inPort');
    expect(exit.inputs[0].id).toBe('input_c_outPort');
    expect(allLinks(model)).toEqual(
      [
        `a:outPort->${id}:b_inPort`,
        `${entry.id}:output_b_inPort->b:inPort`,
        'b:outPort->c:inPort',
        `c:outPort->${exit.id}:input_c_outPort`,
        `${id}:c_outPort->d:inPort`
      ].sort()
    );
    // one undo step
    expect(model.undoLabel).toBe('Group into supernode');
    model.undo();
    expect(JSON.parse(model.toString()).pipelines).toHaveLength(1);
    expect(model.links).toHaveLength(3);
  });

  it('ungroups back to the same links', () => {
    const { model } = chain();
    const before = allLinks(model);
    const id = model.groupIntoSupernode(['b', 'c']);
    const moved = model.ungroupSupernode(id);
    expect(moved.sort()).toEqual(['b', 'c']);
    expect(model.document!.pipelines).toHaveLength(1);
    expect(allLinks(model)).toEqual(before);
  });

  it('opens a supernode: edits go into its pipeline, the properties stay the pipeline’s', () => {
    const { model } = chain();
    model.setPipelineData({ properties: { name: 'chain' } });
    const id = model.groupIntoSupernode(['b', 'c']);
    expect(model.openSupernode(id)).toBe(true);
    expect(model.scope.map(l => l.label)).toEqual(['Supernode']);
    expect(model.nodes.map(n => n.id)).toContain('b');
    expect(model.node('a')).toBeUndefined();
    const added = model.addNode({
      op: 'execute-python-node',
      filename: 'e.py',
      x: 0,
      y: 0
    });
    model.connect('c', added);
    expect(model.pipelineData().properties!.name).toBe('chain');
    model.setPipelineData({ properties: { description: 'd' } });
    const doc = JSON.parse(model.toString());
    expect(doc.pipelines[0].app_data.properties.description).toBe('d');
    expect(doc.pipelines[1].nodes.map((n: any) => n.id)).toContain(added);
    expect(model.closeSupernode(0)).toBe(true);
    expect(model.scope).toEqual([]);
    expect(model.selection).toEqual(new Set([id]));
    expect(model.node('a')).toBeDefined();
    // the inner nodes, for the expanded view
    expect(model.supernodeNodes(id).map(n => n.id)).toEqual(
      expect.arrayContaining(['b', 'c', added])
    );
  });

  it('expands and collapses as Elyra stores it', () => {
    const { model } = chain();
    const id = model.groupIntoSupernode(['b']);
    expect(model.setSupernodeExpanded(id, true)).toBe(true);
    expect(isExpanded(model.node(id)!)).toBe(true);
    expect(model.setSupernodeExpanded(id, true)).toBe(false);
    model.setSupernodeExpanded(id, false);
    expect(model.node(id)!.app_data!.ui_data.is_expanded).toBe(false);
  });

  it('deletes the pipeline of a deleted supernode, and copies it with one', () => {
    const { model } = chain();
    const id = model.groupIntoSupernode(['b', 'c']);
    const fragment = model.copy([id]);
    expect(fragment.pipelines).toHaveLength(1);
    const [pasted] = model.paste(fragment);
    const doc = model.document!;
    expect(doc.pipelines).toHaveLength(3);
    const copy = model.node(pasted)!;
    expect(copy.subflow_ref.pipeline_id_ref).not.toBe(
      model.node(id)!.subflow_ref.pipeline_id_ref
    );
    // the copy's inner nodes have their own ids
    expect(model.supernodeNodes(pasted).map(n => n.id)).not.toContain('b');
    model.removeItems([id]);
    expect(model.document!.pipelines).toHaveLength(2);
    expect(model.supernodeNodes(pasted)).toHaveLength(2);
    model.clear();
    expect(model.document!.pipelines).toHaveLength(1);
  });

  it('undo back out of a supernode whose pipeline is gone', () => {
    const { model } = chain();
    const id = model.groupIntoSupernode(['b', 'c']);
    model.openSupernode(id);
    model.closeSupernode(0);
    model.openSupernode(id);
    // undoing the grouping removes the pipeline the editor is in
    model.undo();
    expect(model.scope).toEqual([]);
    expect(model.node('b')).toBeDefined();
  });

  // the shared corpus of real pipelines, where present
  const withCorpus = fs.existsSync(ELYRA_SUPERNODE) ? it : it.skip;
  withCorpus(
    "reads Elyra's own supernode pipeline and keeps it as it is",
    () => {
      const text = fs.readFileSync(ELYRA_SUPERNODE, 'utf-8');
      const model = new PipelineEditorModel({ path: 'x.pipeline' });
      expect(model.fromString(text)).toBe(true);
      expect(JSON.parse(model.toString())).toEqual(JSON.parse(text));
      const supernode = model.nodes.find(n => n.type === SUPER_NODE)!;
      expect(isExpanded(supernode)).toBe(true);
      const preview = supernodePreview(model.document!, supernode, 300, 200);
      expect(preview.nodes.map(n => n.label).sort()).toEqual([
        'Calculate data hash',
        'Filter text'
      ]);
      expect(preview.links).toHaveLength(1);
      for (const n of preview.nodes) {
        expect(n.x).toBeGreaterThanOrEqual(0);
        expect(n.x).toBeLessThanOrEqual(300);
        expect(n.y).toBeLessThanOrEqual(200);
      }
      // the canvas links through the supernode's ports
      const into = model.nodes.find(
        n => n.id === '9023de3e-b4cb-4549-b630-ae842e926ee2'
      )!;
      expect(nodeLinks(into)[0].source).toBe(supernode.id);
      // ungrouping joins the links through the bindings
      model.ungroupSupernode(supernode.id);
      const links = model.links.map(l => `${l.source}->${l.target}`).sort();
      expect(links).toEqual(
        [
          '2ccb6e75-3a57-4cc1-8a96-8e19ce15c7a5->5bd9bfbb-5db8-4ee5-b49e-ebcac2e7c185',
          '5bd9bfbb-5db8-4ee5-b49e-ebcac2e7c185->51036094-4cc5-440a-a652-a84b0871786a',
          '51036094-4cc5-440a-a652-a84b0871786a->9023de3e-b4cb-4549-b630-ae842e926ee2'
        ].sort()
      );
    }
  );
});
