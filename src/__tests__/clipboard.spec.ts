/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  FRAGMENT_MIME,
  parseFragment,
  PipelineClipboard,
  serializeFragment
} from '../editor/clipboard';
import { PipelineEditorModel } from '../model/model';
import { newPipelineContent } from '../pipelineFile';

function modelWith(path: string, files: string[]): PipelineEditorModel {
  const model = new PipelineEditorModel({ path });
  model.fromString(newPipelineContent('demo'));
  model.addFiles(files, { x: 10, y: 20 });
  return model;
}

/**
 * The browser's async clipboard as jsdom lacks it: text only (no ClipboardItem
 * in jsdom), with a switch to deny access like a page without permission.
 */
class TextClipboard {
  text = '';
  denied = false;
  async writeText(text: string): Promise<void> {
    if (this.denied) {
      throw new DOMException('Write permission denied.', 'NotAllowedError');
    }
    this.text = text;
  }
  async readText(): Promise<string> {
    if (this.denied) {
      throw new DOMException('Read permission denied.', 'NotAllowedError');
    }
    return this.text;
  }
}

describe('clipboard payload', () => {
  it('round-trips a fragment with its links through text', () => {
    const source = modelWith('a/src.pipeline', ['a/x.py', 'a/y.ipynb']);
    const [x, y] = source.nodes.map(n => n.id);
    source.connect(x, y);
    source.selectAll();
    const fragment = source.copy();
    const text = serializeFragment(fragment);
    expect(JSON.parse(text).mime).toBe(FRAGMENT_MIME);

    const parsed = parseFragment(text);
    expect(parsed).toEqual(fragment);

    // pasted into a pipeline in another folder: files re-based, link kept
    const target = modelWith('b/c/dst.pipeline', []);
    const ids = target.paste(parsed!);
    expect(ids).toHaveLength(2);
    expect(target.links).toHaveLength(1);
    expect(
      target.nodes.map(n => n.app_data?.component_parameters?.filename)
    ).toEqual(['../../a/x.py', '../../a/y.ipynb']);
  });

  it.each([
    ['empty text', ''],
    ['plain text', 'hello world'],
    ['not JSON', '{"mime": '],
    ['other JSON', '{"nodes": []}'],
    ['a JSON list', '[1, 2]'],
    [
      'another marker',
      JSON.stringify({ mime: 'text/x-other', fragment: { nodes: [] } })
    ],
    [
      'no node list',
      JSON.stringify({
        mime: FRAGMENT_MIME,
        fragment: { kind: 'mlpipe-lab/fragment', folder: '', comments: [] }
      })
    ],
    [
      'a node without an id',
      JSON.stringify({
        mime: FRAGMENT_MIME,
        fragment: {
          kind: 'mlpipe-lab/fragment',
          folder: '',
          nodes: [{ op: 'execute-python-node' }],
          comments: []
        }
      })
    ]
  ])('ignores %s', (_, text) => {
    expect(parseFragment(text)).toBeNull();
  });
});

describe('PipelineClipboard', () => {
  const clipboard = new TextClipboard();
  beforeAll(() => {
    Object.defineProperty(navigator, 'clipboard', {
      value: clipboard,
      configurable: true
    });
  });
  afterAll(() => {
    delete (navigator as any).clipboard;
  });
  beforeEach(() => {
    PipelineClipboard.clear();
    clipboard.text = '';
    clipboard.denied = false;
  });

  it('writes copies to the system clipboard and reads them back', async () => {
    const model = modelWith('p.pipeline', ['x.py']);
    model.selectAll();
    expect(await PipelineClipboard.set(model.copy())).toBe(true);
    expect(parseFragment(clipboard.text)?.nodes[0].id).toBe(model.nodes[0].id);
    expect((await PipelineClipboard.read())?.nodes).toHaveLength(1);
    expect(PipelineClipboard.nextOffset()).toEqual({ x: 40, y: 40 });
    expect(PipelineClipboard.nextOffset()).toEqual({ x: 80, y: 80 });
  });

  it('pastes what another tab copied, offset from the start', async () => {
    const here = modelWith('p.pipeline', ['x.py']);
    here.selectAll();
    await PipelineClipboard.set(here.copy());
    PipelineClipboard.nextOffset();

    const there = modelWith('q.pipeline', ['r.r', 's.r']);
    there.selectAll();
    clipboard.text = serializeFragment(there.copy()); // written by another page
    const fragment = await PipelineClipboard.read();
    expect(fragment?.nodes.map(n => n.id)).toEqual(there.nodes.map(n => n.id));
    expect(PipelineClipboard.nextOffset()).toEqual({ x: 40, y: 40 });
  });

  it('ignores other text on the clipboard', async () => {
    const model = modelWith('p.pipeline', ['x.py']);
    model.selectAll();
    await PipelineClipboard.set(model.copy());
    clipboard.text = 'copied from an e-mail';
    expect(await PipelineClipboard.read()).toBeNull();
  });

  it('falls back to memory when the clipboard is denied', async () => {
    const model = modelWith('p.pipeline', ['x.py']);
    model.selectAll();
    clipboard.denied = true;
    expect(await PipelineClipboard.set(model.copy(), true)).toBe(false);
    const fragment = await PipelineClipboard.read();
    expect(fragment?.nodes[0].id).toBe(model.nodes[0].id);
    // after a cut the first paste lands in place
    expect(PipelineClipboard.nextOffset()).toEqual({ x: 0, y: 0 });
  });
});
