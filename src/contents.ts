/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import type { Contents } from '@jupyterlab/services';

import { newPipelineContent, pipelineNameFromPath } from './pipelineFile';
import { PIPELINE_EXTENSION } from './tokens';

/**
 * Create `untitled*.pipeline` in `cwd` (first free name) holding an empty pipeline
 * named after the file.
 */
export async function createPipelineFile(
  contents: Contents.IManager,
  cwd: string
): Promise<Contents.IModel> {
  const untitled = await contents.newUntitled({
    path: cwd,
    type: 'file',
    ext: PIPELINE_EXTENSION
  });
  return contents.save(untitled.path, {
    type: 'file',
    format: 'text',
    content: newPipelineContent(pipelineNameFromPath(untitled.path))
  });
}
