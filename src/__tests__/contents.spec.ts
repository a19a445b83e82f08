/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import type { Contents } from '@jupyterlab/services';

import { createPipelineFile } from '../contents';

describe('createPipelineFile', () => {
  it('names the file first, then writes a pipeline named after it', async () => {
    const newUntitled = jest.fn().mockResolvedValue({
      path: 'work/untitled2.pipeline',
      name: 'untitled2.pipeline'
    });
    const save = jest
      .fn()
      .mockImplementation((path: string, model: Partial<Contents.IModel>) =>
        Promise.resolve({ ...model, path })
      );
    const contents = { newUntitled, save } as unknown as Contents.IManager;

    const created = await createPipelineFile(contents, 'work');

    expect(newUntitled).toHaveBeenCalledWith({
      path: 'work',
      type: 'file',
      ext: '.pipeline'
    });
    expect(save).toHaveBeenCalledTimes(1);
    const [path, model] = save.mock.calls[0];
    expect(path).toBe('work/untitled2.pipeline');
    expect(model.type).toBe('file');
    expect(model.format).toBe('text');
    const doc = JSON.parse(model.content);
    expect(doc.pipelines[0].app_data.properties.name).toBe('untitled2');
    expect(doc.pipelines[0].app_data.version).toBe(8);
    expect(created.path).toBe('work/untitled2.pipeline');
  });
});
