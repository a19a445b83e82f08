/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  ReactWidget,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import {
  IDefaultFileBrowser,
  IFileBrowserFactory
} from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { createPipelineFile } from '../contents';
import { opForFile } from '../editor/nodeTypes';
import { basename, dirname, nodePosition } from '../model/elyra';
import { PipelineEditorModel } from '../model/model';
import { isPipelinePath, newPipelineContent } from '../pipelineFile';
import {
  CommandIDs,
  INodeTypeRegistry,
  IPipelineEditor,
  IPipelineEditorTracker,
  PIPELINE_EXTENSION,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';

/** Args of the file commands: explicit paths, else the file browser selection or the current document. */
const PATHS_ARGS = {
  type: 'object',
  properties: {
    paths: {
      type: 'array',
      items: { type: 'string' },
      description:
        'Files (from the server root); defaults to the file browser selection, or the current document.'
    },
    pipeline: {
      type: 'string',
      description:
        'For "Add to pipeline": the pipeline to add to; asks when not given.'
    }
  }
};

/** Dialog body: pick a pipeline to add files to. */
class PipelinePicker extends ReactWidget implements Dialog.IBodyWidget<string> {
  constructor(
    private _paths: string[],
    private _label: string
  ) {
    super();
    this._value = _paths[0] ?? '';
  }
  getValue(): string {
    return this._value;
  }
  render(): JSX.Element {
    return (
      <label className="jp-MLPipe-Field">
        <span>{this._label}</span>
        <select
          className="jp-mod-styled"
          name="pipeline"
          value={this._value}
          onChange={event => {
            this._value = event.target.value;
            this.update();
          }}
        >
          {this._paths.map(path => (
            <option key={path} value={path}>
              {path}
            </option>
          ))}
        </select>
      </label>
    );
  }
  private _value: string;
}

/**
 * File browser (and palette) actions on notebooks and scripts: new pipeline
 * from the selection, add to a pipeline, export as an Airflow DAG.
 */
export const fileActionsPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.fileActions,
  description:
    'File browser and palette actions: new pipeline from selected notebooks and scripts, add them to a pipeline, export as an Airflow DAG.',
  autoStart: true,
  requires: [IPipelineEditorTracker, INodeTypeRegistry],
  optional: [
    IFileBrowserFactory,
    IDefaultFileBrowser,
    IDocumentManager,
    ICommandPalette,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    tracker: IPipelineEditorTracker,
    nodeTypes: INodeTypeRegistry,
    browserFactory: IFileBrowserFactory | null,
    defaultBrowser: IDefaultFileBrowser | null,
    docManager: IDocumentManager | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands, serviceManager, shell } = app;
    const contents = serviceManager.contents;

    const browser = () =>
      browserFactory?.tracker.currentWidget ?? defaultBrowser ?? null;

    /** The files the command acts on. */
    const targets = (args: { paths?: unknown }): string[] => {
      if (Array.isArray(args.paths)) {
        return args.paths.filter((p): p is string => typeof p === 'string');
      }
      const widget = browser();
      const selected = widget
        ? Array.from(widget.selectedItems())
            .filter(item => item.type !== 'directory')
            .map(item => item.path)
        : [];
      if (selected.length) {
        return selected;
      }
      const current = shell.currentWidget;
      const context = current && docManager?.contextForWidget(current);
      return context ? [context.path] : [];
    };
    const opForPath = (path: string) => opForFile(nodeTypes, path);
    const nodeFiles = (paths: string[]) => paths.filter(p => opForPath(p));
    const allNodeFiles = (paths: string[]) =>
      paths.length > 0 && nodeFiles(paths).length === paths.length;

    const openEditor = async (
      path: string
    ): Promise<IPipelineEditor | null> => {
      await commands.execute('docmanager:open', { path });
      const widget = tracker.find(w => w.context.path === path) ?? null;
      if (widget) {
        await widget.context.ready;
      }
      return widget;
    };

    commands.addCommand(CommandIDs.newFromSelection, {
      label: trans.__('New Pipeline from Selection'),
      caption: trans.__(
        'Create a pipeline with one node per selected notebook or script'
      ),
      describedBy: { args: PATHS_ARGS },
      isVisible: args => allNodeFiles(targets(args)),
      isEnabled: args => allNodeFiles(targets(args)),
      execute: async args => {
        const paths = nodeFiles(targets(args));
        if (!paths.length) {
          return null;
        }
        try {
          const created = await createPipelineFile(contents, dirname(paths[0]));
          const model = new PipelineEditorModel({
            path: created.path,
            opForPath
          });
          model.fromString(
            newPipelineContent(
              basename(created.path).slice(0, -PIPELINE_EXTENSION.length)
            )
          );
          model.addFiles(paths, { x: 80, y: 80 }, { x: 280, y: 0 });
          await contents.save(created.path, {
            type: 'file',
            format: 'text',
            content: model.toString()
          });
          model.dispose();
          await openEditor(created.path);
          return created.path;
        } catch (error) {
          void showErrorMessage(
            trans.__('Cannot create the pipeline'),
            error as Error
          );
          return null;
        }
      }
    });

    commands.addCommand(CommandIDs.addToPipeline, {
      label: trans.__('Add to Pipeline…'),
      caption: trans.__('Add the selected notebooks and scripts to a pipeline'),
      describedBy: { args: PATHS_ARGS },
      isVisible: args => allNodeFiles(targets(args)),
      isEnabled: args => allNodeFiles(targets(args)),
      execute: async args => {
        const paths = nodeFiles(targets(args));
        if (!paths.length) {
          return null;
        }
        let pipeline = typeof args.pipeline === 'string' ? args.pipeline : '';
        if (!pipeline) {
          const candidates = new Set<string>();
          tracker.forEach(w => candidates.add(w.context.path));
          try {
            const folder = await contents.get(dirname(paths[0]), {
              content: true
            });
            for (const item of folder.content ?? []) {
              if (item.type === 'file' && isPipelinePath(item.path)) {
                candidates.add(item.path);
              }
            }
          } catch {
            // the open editors are enough to choose from
          }
          if (!candidates.size) {
            await showDialog({
              title: trans.__('Add to pipeline'),
              body: trans.__(
                'No pipeline is open and this folder has none. Use "New Pipeline from Selection" instead.'
              ),
              buttons: [Dialog.okButton({ label: trans.__('Close') })]
            });
            return null;
          }
          const result = await showDialog({
            title: trans.__('Add to pipeline'),
            body: new PipelinePicker([...candidates], trans.__('Pipeline')),
            buttons: [
              Dialog.cancelButton({ label: trans.__('Cancel') }),
              Dialog.okButton({ label: trans.__('Add') })
            ]
          });
          if (!result.button.accept || !result.value) {
            return null;
          }
          pipeline = result.value;
        }
        const widget = await openEditor(pipeline);
        if (!widget || widget.editorModel.error) {
          return null;
        }
        const model = widget.editorModel;
        const nodes = model.nodes;
        const at = nodes.length
          ? {
              x: Math.max(...nodes.map(n => nodePosition(n).x)) + 280,
              y: Math.min(...nodes.map(n => nodePosition(n).y))
            }
          : { x: 80, y: 80 };
        const added = model.addFiles(paths, at);
        shell.activateById(widget.id);
        requestAnimationFrame(() => widget.fitView());
        return added;
      }
    });

    commands.addCommand(CommandIDs.exportAsDag, {
      label: trans.__('Export as Airflow DAG…'),
      caption: trans.__(
        'Export a pipeline, or a notebook or script as a one-node pipeline, as an Airflow DAG'
      ),
      describedBy: { args: PATHS_ARGS },
      isVisible: args => {
        const paths = targets(args);
        return (
          paths.length === 1 &&
          (isPipelinePath(paths[0]) || opForPath(paths[0]) !== null)
        );
      },
      execute: async args => {
        const [path] = targets(args);
        if (!path) {
          return null;
        }
        let pipeline = path;
        if (!isPipelinePath(path)) {
          // a one-node pipeline next to the file, named after it
          const stem = basename(path).replace(/\.[^.]+$/, '');
          const folder = dirname(path);
          pipeline = `${folder ? `${folder}/` : ''}${stem}${PIPELINE_EXTENSION}`;
          let exists = true;
          try {
            await contents.get(pipeline, { content: false });
          } catch {
            exists = false;
          }
          if (!exists) {
            const model = new PipelineEditorModel({
              path: pipeline,
              opForPath
            });
            model.fromString(newPipelineContent(stem));
            model.addFiles([path], { x: 80, y: 80 });
            await contents.save(pipeline, {
              type: 'file',
              format: 'text',
              content: model.toString()
            });
            model.dispose();
          }
        }
        const widget = await openEditor(pipeline);
        if (!widget) {
          return null;
        }
        shell.activateById(widget.id);
        return commands.execute(CommandIDs.exportPipeline);
      }
    });

    if (palette) {
      const category = trans.__('ML Pipelines');
      for (const command of [
        CommandIDs.newFromSelection,
        CommandIDs.addToPipeline,
        CommandIDs.exportAsDag
      ]) {
        palette.addItem({ command, category });
      }
    }
  }
};
