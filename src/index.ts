/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * @packageDocumentation
 * @module mlpipe-lab
 *
 * JupyterLab plugins of mlpipe-lab: visual ML pipelines that compile to Airflow DAGs.
 */

import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { catalogsPlugin } from './plugins/catalogs';
import { componentsPlugin } from './plugins/components';
import { editorPlugin } from './plugins/editor';
import { fileActionsPlugin } from './plugins/fileActions';
import { filetypePlugin } from './plugins/filetype';
import { launcherPlugin } from './plugins/launcher';
import { notebookActionsPlugin } from './plugins/notebookActions';
import { registryPlugins } from './plugins/registry';
import { runsPlugin } from './plugins/runs';
import { serverPlugin } from './plugins/server';

const plugins: JupyterFrontEndPlugin<any>[] = [
  ...registryPlugins,
  filetypePlugin,
  editorPlugin,
  catalogsPlugin,
  componentsPlugin,
  fileActionsPlugin,
  notebookActionsPlugin,
  launcherPlugin,
  runsPlugin,
  serverPlugin
];

export default plugins;

// The extension points, for other extensions to require (see tokens.ts).
export * from './tokens';
