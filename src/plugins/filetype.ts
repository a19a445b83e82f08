/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { pipelineIcon } from '../icons';
import {
  PIPELINE_EXTENSION,
  PIPELINE_FILE_TYPE,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * Other widget factories that can open `.pipeline` files (Open With); the
 * pipeline editor registers itself as the default.
 */
const PIPELINE_FACTORIES = ['Editor'];

/**
 * Registers the `.pipeline` file type (Elyra compatible JSON documents).
 */
export const filetypePlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.filetype,
  description:
    'Registers the .pipeline file type (the pipeline editor opens it; the text editor via Open With).',
  autoStart: true,
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, translator: ITranslator | null): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);

    app.docRegistry.addFileType(
      {
        name: PIPELINE_FILE_TYPE,
        displayName: trans.__('Pipeline'),
        extensions: [PIPELINE_EXTENSION],
        mimeTypes: ['application/json'],
        fileFormat: 'text',
        contentType: 'file',
        icon: pipelineIcon
      },
      PIPELINE_FACTORIES
    );

    console.log('mlpipe-lab: extension activated');
  }
};
