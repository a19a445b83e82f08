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
import type { Contents } from '@jupyterlab/services';
import {
  IDefaultFileBrowser,
  IFileBrowserFactory
} from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { createPipelineFile } from '../contents';
import { opForFile } from '../editor/nodeTypes';
import { basename, dirname, nodePosition } from '../model/elyra';
import { message } from '../model/messages';
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

/** A pipeline to offer in "Add to pipeline", and why it is there. */
interface IPipelineChoice {
  path: string;
  /** e.g. "in this folder", "open" (translated). */
  note: string;
}

/** Dialog body: pick a pipeline to add files to (the one in the files' folder first). */
class PipelinePicker extends ReactWidget implements Dialog.IBodyWidget<string> {
  constructor(
    private _choices: IPipelineChoice[],
    private _label: string,
    initial: string
  ) {
    super();
    this._value = initial;
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
          {this._choices.map(choice => (
            <option key={choice.path} value={choice.path}>
              {choice.note ? `${choice.path} (${choice.note})` : choice.path}
            </option>
          ))}
        </select>
      </label>
    );
  }
  private _value: string;
}

/**
 * The pipelines to offer for files in `folder`: that folder's pipelines first
 * (an open one before the others), then pipelines open elsewhere; and the one
 * to preselect.
 */
export function pipelineChoices(
  folder: string,
  inFolder: readonly string[],
  open: readonly string[],
  notes: { here: string; open: string; hereOpen: string }
): { choices: IPipelineChoice[]; initial: string } {
  const here = [...inFolder].sort((a, b) => a.localeCompare(b));
  const openHere = open.filter(p => dirname(p) === folder);
  const ordered = [
    ...here.filter(p => openHere.includes(p)),
    ...openHere.filter(p => !here.includes(p)),
    ...here.filter(p => !openHere.includes(p)),
    ...open.filter(p => dirname(p) !== folder)
  ];
  const unique = [...new Set(ordered)];
  return {
    choices: unique.map(path => ({
      path,
      note:
        dirname(path) === folder
          ? open.includes(path)
            ? notes.hereOpen
            : notes.here
          : notes.open
    })),
    initial: unique[0] ?? ''
  };
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

    /** The names of the files in a folder (empty when it cannot be read). */
    const listFolder = async (folder: string): Promise<string[]> => {
      try {
        const listing = await contents.get(folder, { content: true });
        return ((listing.content ?? []) as Contents.IModel[])
          .filter(item => item.type !== 'directory')
          .map(item => item.path);
      } catch {
        return [];
      }
    };

    /** `<folder>/<stem>.pipeline`, or `<stem>-1.pipeline`... when taken; created empty. */
    const createNamedPipeline = async (
      folder: string,
      stem: string
    ): Promise<Contents.IModel> => {
      const taken = new Set(
        (await listFolder(folder)).map(p => basename(p).toLowerCase())
      );
      let name = `${stem}${PIPELINE_EXTENSION}`;
      for (let i = 1; taken.has(name.toLowerCase()); i++) {
        name = `${stem}-${i}${PIPELINE_EXTENSION}`;
      }
      const path = folder ? `${folder}/${name}` : name;
      return contents.save(path, {
        type: 'file',
        format: 'text',
        content: newPipelineContent(name.slice(0, -PIPELINE_EXTENSION.length))
      });
    };

    /**
     * The pipeline beside a file, named after it (`train.pipeline`, `train-1.pipeline`...),
     * that runs it: the one "Export as Airflow DAG" made before. '' when there is none.
     */
    const pipelineOfFile = async (
      folder: string,
      stem: string,
      file: string
    ): Promise<string> => {
      const pattern = new RegExp(
        `^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(-\\d+)?\\.pipeline$`
      );
      for (const candidate of (await listFolder(folder)).filter(p =>
        pattern.test(basename(p))
      )) {
        try {
          const text = await contents.get(candidate, {
            type: 'file',
            format: 'text',
            content: true
          });
          const model = new PipelineEditorModel({ path: candidate });
          const runsIt =
            model.fromString(String(text.content ?? '')) &&
            model.nodesOfFile(file).length > 0;
          model.dispose();
          if (runsIt) {
            return candidate;
          }
        } catch {
          // unreadable: not the one
        }
      }
      return '';
    };

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
          // one file: a pipeline named after it (train.ipynb -> train.pipeline); several:
          // untitled.pipeline, whose name follows the file when it is renamed
          const created =
            paths.length === 1
              ? await createNamedPipeline(
                  dirname(paths[0]),
                  basename(paths[0]).replace(/\.[^.]+$/, '')
                )
              : await createPipelineFile(contents, dirname(paths[0]));
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
          const folder = dirname(paths[0]);
          const open: string[] = [];
          tracker.forEach(w => open.push(w.context.path));
          const inFolder = (await listFolder(folder)).filter(isPipelinePath);
          const { choices, initial } = pipelineChoices(folder, inFolder, open, {
            here: trans.__('in this folder'),
            hereOpen: trans.__('in this folder, open'),
            open: trans.__('open')
          });
          if (!choices.length) {
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
            body: new PipelinePicker(choices, trans.__('Pipeline'), initial),
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
        // a file already in the pipeline is not added twice: its node is selected instead
        const present = paths.flatMap(path => model.nodesOfFile(path));
        const missing = paths.filter(path => !model.nodesOfFile(path).length);
        const nodes = model.nodes;
        const at = nodes.length
          ? {
              x: Math.max(...nodes.map(n => nodePosition(n).x)) + 280,
              y: Math.min(...nodes.map(n => nodePosition(n).y))
            }
          : { x: 80, y: 80 };
        const added = missing.length ? model.addFiles(missing, at) : [];
        if (present.length) {
          model.select([...present.map(n => n.id), ...added], false);
          const names = paths
            .filter(path => !missing.includes(path))
            .map(path => basename(path));
          model.announce(
            names.length === 1
              ? message(
                  '%1 is already in this pipeline; its node is selected.',
                  names[0]
                )
              : message(
                  '%1 are already in this pipeline; their nodes are selected.',
                  names.join(', ')
                )
          );
        }
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
          // the one-node pipeline of this file beside it (named after it), or a new one
          const stem = basename(path).replace(/\.[^.]+$/, '');
          const folder = dirname(path);
          pipeline = await pipelineOfFile(folder, stem, path);
          if (!pipeline) {
            const created = await createNamedPipeline(folder, stem);
            const model = new PipelineEditorModel({
              path: created.path,
              opForPath
            });
            model.fromString(
              newPipelineContent(
                basename(created.path).slice(0, -PIPELINE_EXTENSION.length)
              )
            );
            model.addFiles([path], { x: 80, y: 80 });
            await contents.save(created.path, {
              type: 'file',
              format: 'text',
              content: model.toString()
            });
            model.dispose();
            pipeline = created.path;
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
