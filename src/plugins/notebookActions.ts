/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { addIcon, fileUploadIcon } from '@jupyterlab/ui-components';

import { pipelineIcon } from '../icons';
import { CommandIDs, PluginIDs, TRANSLATION_DOMAIN } from '../tokens';

/** Args of the notebook commands. */
const NOTEBOOK_ARGS = {
  type: 'object',
  properties: {
    path: {
      type: 'string',
      description:
        'The notebook (from the server root); defaults to the current notebook.'
    },
    toolbar: {
      type: 'boolean',
      description: 'Whether the command is run from the notebook toolbar.'
    }
  }
};

/**
 * The same actions as the file browser's on the notebook being edited, in its
 * toolbar, its context menu and the File menu (declared in
 * `schema/notebook-actions.json`). They run the file-browser commands with the
 * notebook's path, so there is one implementation of each action.
 */
export const notebookActionsPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.notebookActions,
  description:
    'Notebook toolbar, context menu and File menu entries: new pipeline from this notebook, add it to a pipeline, export it as an Airflow DAG.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands, shell } = app;

    /** The notebook the command is about: by path, else the current one. */
    const notebook = (args: { path?: unknown }): NotebookPanel | null => {
      if (typeof args.path === 'string') {
        return notebooks.find(p => p.context.path === args.path) ?? null;
      }
      // the current notebook only while a notebook is the active tab
      const current = notebooks.currentWidget;
      return current && current === shell.currentWidget ? current : null;
    };
    const pathOf = (args: { path?: unknown }): string | null =>
      typeof args.path === 'string'
        ? args.path
        : (notebook(args)?.context.path ?? null);

    /** Run a file-browser action on the notebook, saved first so the pipeline sees what the user sees. */
    const forward = async (
      command: string,
      args: { path?: unknown },
      save: boolean
    ): Promise<unknown> => {
      const path = pathOf(args);
      if (!path) {
        return null;
      }
      const panel = notebook(args);
      if (
        save &&
        panel?.context.model.dirty &&
        panel.context.contentsModel?.writable !== false
      ) {
        await panel.context.save();
      }
      return commands.execute(command, { paths: [path] });
    };

    const withLabel =
      (text: string) =>
      (args: { toolbar?: unknown }): string =>
        args.toolbar ? '' : text;

    commands.addCommand(CommandIDs.notebookNewPipeline, {
      label: withLabel(trans.__('New Pipeline from This Notebook')),
      caption: trans.__(
        'Create a pipeline with this notebook as its first node'
      ),
      icon: pipelineIcon,
      describedBy: { args: NOTEBOOK_ARGS },
      isEnabled: args => pathOf(args) !== null,
      execute: args => forward(CommandIDs.newFromSelection, args, false)
    });

    commands.addCommand(CommandIDs.notebookAddToPipeline, {
      label: withLabel(trans.__('Add Notebook to Pipeline…')),
      caption: trans.__('Add this notebook as a node to a pipeline'),
      icon: addIcon,
      describedBy: { args: NOTEBOOK_ARGS },
      isEnabled: args => pathOf(args) !== null,
      execute: args => forward(CommandIDs.addToPipeline, args, false)
    });

    commands.addCommand(CommandIDs.notebookExportAsDag, {
      label: withLabel(trans.__('Export Notebook as Airflow DAG…')),
      caption: trans.__(
        'Save this notebook and export it as a one-node pipeline to an Airflow DAG'
      ),
      icon: fileUploadIcon,
      describedBy: { args: NOTEBOOK_ARGS },
      isEnabled: args => pathOf(args) !== null,
      execute: args => forward(CommandIDs.exportAsDag, args, true)
    });

    // the toolbar buttons follow the current notebook
    notebooks.currentChanged.connect(() => {
      for (const id of [
        CommandIDs.notebookNewPipeline,
        CommandIDs.notebookAddToPipeline,
        CommandIDs.notebookExportAsDag
      ]) {
        commands.notifyCommandChanged(id);
      }
    });

    if (palette) {
      const category = trans.__('ML Pipelines');
      for (const command of [
        CommandIDs.notebookNewPipeline,
        CommandIDs.notebookAddToPipeline,
        CommandIDs.notebookExportAsDag
      ]) {
        palette.addItem({ command, category });
      }
    }
  }
};
