/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  createToolbarFactory,
  ICommandPalette,
  IToolbarWidgetRegistry,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import {
  addIcon,
  checkIcon,
  clearIcon,
  copyIcon,
  cutIcon,
  deleteIcon,
  fileUploadIcon,
  LabIcon,
  launchIcon,
  pasteIcon,
  redoIcon,
  saveIcon,
  tableRowsIcon,
  treeViewIcon,
  undoIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';

import type { Contents } from '@jupyterlab/services';

import { PipelineClipboard } from '../editor/clipboard';
import { distinctLabels, nameAfterRename } from '../editor/naming';
import { closedPaletteGroups } from '../editor/paletteState';
import { PipelineEditorModel } from '../model/model';
import { isPipelinePath } from '../pipelineFile';
import { exportPipeline, submitPipeline } from '../editor/dialogs';
import { renderMessage } from '../model/messages';
import {
  DEFAULT_EDITOR_SETTINGS,
  EditorSettings,
  IEditorSettings,
  PipelineEditorFactory,
  PipelineEditorWidget
} from '../editor/widget';
import { pipelineIcon } from '../icons';
import {
  CommandIDs,
  EDITOR_FACTORY,
  ICatalogStore,
  IFormWidgetRegistry,
  INodeTypeRegistry,
  IPipelineEditor,
  IPipelineEditorTracker,
  ISubmitFollowUps,
  PIPELINE_FILE_TYPE,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';

/** The title dataset key of the folder a tab shows before a pipeline's file name. */
const FOLDER_KEY = 'mlpipe-folder';

/** Arguments every editor command accepts. */
const EDITOR_ARGS = {
  type: 'object',
  properties: {
    toolbar: {
      type: 'boolean',
      description: 'Whether the command is run from the editor toolbar.'
    }
  }
};

/**
 * The visual pipeline editor: the document widget factory (default for
 * `.pipeline` files), its tracker, commands, toolbar and shortcuts.
 */
export const editorPlugin: JupyterFrontEndPlugin<IPipelineEditorTracker> = {
  id: PluginIDs.editor,
  description:
    'The visual pipeline editor for .pipeline files: canvas, properties, validation, export and submit.',
  autoStart: true,
  provides: IPipelineEditorTracker,
  requires: [
    INodeTypeRegistry,
    IFormWidgetRegistry,
    ICatalogStore,
    ISubmitFollowUps
  ],
  optional: [
    IDocumentManager,
    ILayoutRestorer,
    ICommandPalette,
    ISettingRegistry,
    IToolbarWidgetRegistry,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    nodeTypes: INodeTypeRegistry,
    formWidgets: IFormWidgetRegistry,
    catalogs: ICatalogStore,
    followUps: ISubmitFollowUps,
    docManager: IDocumentManager | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    toolbarRegistry: IToolbarWidgetRegistry | null,
    translator: ITranslator | null
  ): IPipelineEditorTracker => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands } = app;
    const settings = new EditorSettings();
    const tracker = new WidgetTracker<IPipelineEditor>({
      namespace: 'mlpipe-pipeline-editor'
    });

    const openFile = (path: string) => {
      void commands.execute('docmanager:open', { path });
    };

    const toolbarFactory =
      toolbarRegistry && settingRegistry
        ? createToolbarFactory(
            toolbarRegistry,
            settingRegistry,
            EDITOR_FACTORY,
            PluginIDs.editor,
            translator ?? nullTranslator
          )
        : undefined;

    const factory = new PipelineEditorFactory({
      name: EDITOR_FACTORY,
      label: trans.__('Pipeline Editor'),
      fileTypes: [PIPELINE_FILE_TYPE],
      defaultFor: [PIPELINE_FILE_TYPE],
      modelName: 'text',
      preferKernel: false,
      canStartKernel: false,
      translator: translator ?? nullTranslator,
      toolbarFactory,
      registries: { nodeTypes, formWidgets, catalogs },
      trans,
      settings,
      docManager,
      contents: app.serviceManager.contents,
      onOpenFile: openFile,
      onOpenAsText: path => {
        void commands.execute('docmanager:open', { path, factory: 'Editor' });
      }
    });

    // Tabs tell apart two pipelines of the same file name: the folders that differ show before
    // the name ("iris/" train.pipeline). Through the title's dataset and CSS: a document
    // widget renames its file when its title label is changed.
    const relabel = () => {
      const widgets: IPipelineEditor[] = [];
      tracker.forEach(w => widgets.push(w));
      const labels = distinctLabels(widgets.map(w => w.context.path));
      for (const w of widgets) {
        const label = labels.get(w.context.path) ?? '';
        const folder = label.slice(0, label.lastIndexOf('/') + 1);
        // Lumino writes dataset keys as they are: data-mlpipe-folder
        if ((w.title.dataset[FOLDER_KEY] ?? '') !== folder) {
          const rest = { ...w.title.dataset };
          delete rest[FOLDER_KEY];
          w.title.dataset = folder ? { ...rest, [FOLDER_KEY]: folder } : rest;
        }
      }
    };
    tracker.widgetAdded.connect(relabel);

    factory.widgetCreated.connect((_, widget) => {
      widget.title.icon = pipelineIcon;
      widget.context.pathChanged.connect(() => {
        void tracker.save(widget);
        relabel();
      });
      widget.disposed.connect(() => requestAnimationFrame(relabel));
      void tracker.add(widget);
      const refresh = () => refreshCommands(commands, widget, tracker);
      widget.editorModel.contentChanged.connect(refresh);
      widget.editorModel.selectionChanged.connect(refresh);
      widget.context.model.stateChanged.connect(refresh);
      widget.content.propertiesToggled.connect(refresh);
    });
    app.docRegistry.addWidgetFactory(factory);

    // A pipeline renamed in the file browser while closed: its name follows the file too
    // (open ones follow in their editor).
    const contents = app.serviceManager.contents;
    contents.fileChanged.connect((_, change) => {
      const from = change.oldValue?.path;
      const to = change.newValue?.path;
      if (
        change.type !== 'rename' ||
        !from ||
        !to ||
        !isPipelinePath(to) ||
        tracker.find(w => w.context.path === to || w.context.path === from)
      ) {
        return;
      }
      void renameClosedPipeline(contents, from, to).catch(reason =>
        console.warn(`mlpipe-lab: cannot rename the pipeline in ${to}`, reason)
      );
    });

    restorer?.restore(tracker, {
      command: 'docmanager:open',
      args: widget => ({ path: widget.context.path, factory: EDITOR_FACTORY }),
      name: widget => widget.context.path
    });

    tracker.currentChanged.connect(() =>
      refreshCommands(commands, tracker.currentWidget, tracker)
    );

    addCommands(app, tracker, trans, openFile, { catalogs, followUps });

    commands.addCommand(CommandIDs.togglePalette, {
      label: trans.__('Show Node Palette'),
      caption: trans.__(
        'Fold the node palette of the pipeline editor to a narrow strip, or show it again'
      ),
      describedBy: { args: EDITOR_ARGS },
      isEnabled: () => !!tracker.currentWidget,
      isToggled: () => !settings.current.paletteCollapsed,
      execute: () => {
        settings.save({ paletteCollapsed: !settings.current.paletteCollapsed });
      }
    });
    settings.changed.connect(() =>
      commands.notifyCommandChanged(CommandIDs.togglePalette)
    );

    if (palette) {
      const category = trans.__('ML Pipelines');
      for (const command of [
        CommandIDs.validatePipeline,
        CommandIDs.exportPipeline,
        CommandIDs.submitPipeline,
        CommandIDs.autoLayout,
        CommandIDs.toggleProperties,
        CommandIDs.togglePalette,
        CommandIDs.addComment,
        CommandIDs.groupIntoSupernode,
        CommandIDs.fitView,
        CommandIDs.clearPipeline
      ]) {
        palette.addItem({ command, category });
      }
    }

    if (settingRegistry) {
      settingRegistry
        .load(PluginIDs.editor)
        .then(loaded => {
          const apply = () => {
            const value: Partial<IEditorSettings> = {};
            for (const key of Object.keys(DEFAULT_EDITOR_SETTINGS) as Array<
              keyof IEditorSettings
            >) {
              const composite = loaded.get(key).composite;
              if (
                typeof composite === typeof DEFAULT_EDITOR_SETTINGS[key] &&
                composite !== null
              ) {
                (value as any)[key] = composite;
              }
            }
            value.paletteClosedGroups = closedPaletteGroups(
              loaded.get('paletteClosedGroups').composite
            );
            settings.update(value);
          };
          // the palette's fold states the user toggles in an editor are kept in their settings
          settings.persist = changed => {
            for (const [key, v] of Object.entries(changed)) {
              loaded.set(key, v as any).catch(reason => {
                console.warn(
                  `mlpipe-lab: cannot keep the setting ${key}`,
                  reason
                );
              });
            }
          };
          apply();
          loaded.changed.connect(apply);
        })
        .catch(reason => {
          console.warn(
            `mlpipe-lab: cannot load the settings of ${PluginIDs.editor}`,
            reason
          );
        });
    }

    return tracker;
  }
};

/** Give a closed pipeline file that was renamed the new file's name, if its name followed the file. */
async function renameClosedPipeline(
  contents: Contents.IManager,
  from: string,
  to: string
): Promise<void> {
  const file = await contents.get(to, {
    type: 'file',
    format: 'text',
    content: true
  });
  const model = new PipelineEditorModel({ path: to });
  try {
    if (!model.fromString(String(file.content ?? ''))) {
      return; // not a pipeline we can read: leave it as it is
    }
    const raw = model.pipelineData().properties?.name;
    const next =
      typeof raw === 'string' ? nameAfterRename(raw, from, to) : null;
    if (next && model.setPipelineData({ properties: { name: next } })) {
      await contents.save(to, {
        type: 'file',
        format: 'text',
        content: model.toString()
      });
    }
  } finally {
    model.dispose();
  }
}

/** Tell menus and toolbars that the editor commands may have changed state. */
function refreshCommands(
  commands: CommandRegistry,
  widget: IPipelineEditor | null,
  tracker: IPipelineEditorTracker
): void {
  if (widget && widget !== tracker.currentWidget) {
    return;
  }
  for (const id of [
    CommandIDs.savePipeline,
    CommandIDs.undo,
    CommandIDs.redo,
    CommandIDs.clearPipeline,
    CommandIDs.deleteSelection,
    CommandIDs.groupIntoSupernode,
    CommandIDs.ungroupSupernode,
    CommandIDs.copySelection,
    CommandIDs.cutSelection,
    CommandIDs.paste,
    CommandIDs.autoLayout,
    CommandIDs.toggleProperties,
    CommandIDs.validatePipeline,
    CommandIDs.exportPipeline,
    CommandIDs.submitPipeline
  ]) {
    commands.notifyCommandChanged(id);
  }
}

function addCommands(
  app: JupyterFrontEnd,
  tracker: IPipelineEditorTracker,
  trans: TranslationBundle,
  openFile: (path: string) => void,
  registries: { catalogs: ICatalogStore; followUps: ISubmitFollowUps }
): void {
  const { commands } = app;
  const current = (): IPipelineEditor | null => tracker.currentWidget;
  const editable = (): IPipelineEditor | null => {
    const widget = current();
    return widget && !widget.editorModel.error && widget.context.isReady
      ? widget
      : null;
  };
  const withLabel = (text: string) => (args: { toolbar?: unknown }) =>
    args.toolbar ? '' : text;

  commands.addCommand(CommandIDs.savePipeline, {
    label: withLabel(trans.__('Save Pipeline')),
    caption: trans.__('Save the pipeline'),
    icon: saveIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable(),
    execute: async () => {
      const widget = editable();
      if (widget) {
        await widget.context.save();
      }
    }
  });

  commands.addCommand(CommandIDs.validatePipeline, {
    label: args =>
      args.toolbar ? trans.__('Validate') : trans.__('Validate Pipeline'),
    caption: trans.__(
      'Check the pipeline (including unsaved changes) and show its problems'
    ),
    icon: checkIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable(),
    execute: async () => {
      const widget = editable();
      if (!widget) {
        return null;
      }
      const result = await widget.validate();
      if (!result) {
        Notification.error(
          trans.__(
            'The pipeline could not be validated; see the browser console.'
          ),
          { autoClose: 5000 }
        );
        return null;
      }
      const errors = result.problems.filter(p => p.severity !== 'warning');
      const warnings = result.problems.length - errors.length;
      if (result.valid && !warnings) {
        Notification.success(trans.__('The pipeline is valid.'), {
          autoClose: 3000
        });
      } else if (result.valid) {
        Notification.warning(
          trans._n(
            'The pipeline is valid, with %1 warning.',
            'The pipeline is valid, with %1 warnings.',
            warnings
          ),
          { autoClose: 5000 }
        );
      } else {
        Notification.error(
          trans._n(
            'The pipeline has %1 error; see the nodes and the properties panel.',
            'The pipeline has %1 errors; see the nodes and the properties panel.',
            errors.length
          ),
          { autoClose: 5000 }
        );
        widget.propertiesVisible = true;
      }
      return result;
    }
  });

  // Export and submit differ only in wording and in the dialog they run.
  const addRuntimeConfigCommand = (
    id: string,
    texts: {
      toolbar: string;
      label: string;
      caption: string;
      runtimeConfig: string;
    },
    icon: LabIcon,
    run: typeof exportPipeline | typeof submitPipeline
  ) =>
    commands.addCommand(id, {
      label: args => (args.toolbar ? texts.toolbar : texts.label),
      caption: texts.caption,
      icon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            ...EDITOR_ARGS.properties,
            runtimeConfig: { type: 'string', description: texts.runtimeConfig }
          }
        }
      },
      isEnabled: () => !!editable(),
      execute: async args => {
        const widget = editable();
        if (!widget) {
          return null;
        }
        return run(widget, {
          trans,
          openFile,
          ...registries,
          runtimeConfig:
            typeof args.runtimeConfig === 'string'
              ? args.runtimeConfig
              : undefined
        });
      }
    });

  addRuntimeConfigCommand(
    CommandIDs.exportPipeline,
    {
      toolbar: trans.__('Export'),
      label: trans.__('Export Pipeline as Airflow DAG'),
      caption: trans.__('Write the Airflow DAG file next to the pipeline'),
      runtimeConfig: trans.__(
        'Runtime configuration to export with; asks when not given.'
      )
    },
    fileUploadIcon,
    exportPipeline
  );

  addRuntimeConfigCommand(
    CommandIDs.submitPipeline,
    {
      toolbar: trans.__('Submit'),
      label: trans.__('Submit Pipeline'),
      caption: trans.__(
        'Submit the pipeline: upload its files and commit its DAG to the DAG repository'
      ),
      runtimeConfig: trans.__(
        'Runtime configuration to submit with; asks when not given.'
      )
    },
    launchIcon,
    submitPipeline
  );

  commands.addCommand(CommandIDs.autoLayout, {
    label: withLabel(trans.__('Arrange Nodes Left to Right')),
    caption: trans.__('Lay the nodes out automatically, from left to right'),
    icon: treeViewIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable()?.editorModel.nodes.length,
    execute: async () => {
      await editable()?.autoLayout();
    }
  });

  commands.addCommand(CommandIDs.clearPipeline, {
    label: withLabel(trans.__('Clear Pipeline')),
    caption: trans.__(
      'Remove every node, link and comment (undo brings them back)'
    ),
    icon: clearIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable() && !editable()!.editorModel.isEmpty,
    execute: () => {
      const widget = editable();
      if (widget?.editorModel.clear()) {
        widget.editorModel.announce(
          trans.__('Pipeline cleared. Undo brings everything back.')
        );
      }
    }
  });

  commands.addCommand(CommandIDs.undo, {
    label: withLabel(trans.__('Undo')),
    caption: () => {
      const last = editable()?.editorModel.undoMessage;
      return last
        ? trans.__('Undo: %1', renderMessage(last, trans))
        : trans.__('Undo the last change to the pipeline');
    },
    icon: undoIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable()?.editorModel.canUndo,
    execute: () => {
      const widget = editable();
      widget?.editorModel.undo();
      widget?.focusCanvas();
    }
  });

  commands.addCommand(CommandIDs.redo, {
    label: withLabel(trans.__('Redo')),
    caption: () => {
      const next = editable()?.editorModel.redoMessage;
      return next
        ? trans.__('Redo: %1', renderMessage(next, trans))
        : trans.__('Redo the last undone change');
    },
    icon: redoIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable()?.editorModel.canRedo,
    execute: () => {
      const widget = editable();
      widget?.editorModel.redo();
      widget?.focusCanvas();
    }
  });

  commands.addCommand(CommandIDs.toggleProperties, {
    label: args =>
      args.toolbar ? trans.__('Properties') : trans.__('Show Properties Panel'),
    caption: trans.__(
      'Show or hide the properties of the pipeline and its nodes'
    ),
    icon: tableRowsIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!current(),
    isToggled: () => !!current()?.propertiesVisible,
    execute: () => {
      const widget = current();
      if (widget) {
        widget.propertiesVisible = !widget.propertiesVisible;
      }
    }
  });

  commands.addCommand(CommandIDs.deleteSelection, {
    label: trans.__('Delete Selected Items'),
    caption: trans.__('Delete the selected nodes, links and comments'),
    icon: deleteIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable()?.editorModel.selection.size,
    execute: () => {
      const widget = editable();
      widget?.editorModel.removeSelection();
      widget?.focusCanvas();
    }
  });

  commands.addCommand(CommandIDs.copySelection, {
    label: trans.__('Copy Selected Nodes'),
    icon: copyIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable()?.editorModel.selection.size,
    execute: async () => {
      const model = editable()?.editorModel;
      if (model) {
        // also to the system clipboard: other editors and browser tabs paste it
        await PipelineClipboard.set(model.copy());
      }
    }
  });

  commands.addCommand(CommandIDs.cutSelection, {
    label: trans.__('Cut Selected Nodes'),
    icon: cutIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable()?.editorModel.selection.size,
    execute: async () => {
      const model = editable()?.editorModel;
      if (model) {
        const written = PipelineClipboard.set(model.copy(), true);
        model.removeSelection();
        editable()?.focusCanvas();
        await written;
      }
    }
  });

  commands.addCommand(CommandIDs.paste, {
    label: trans.__('Paste Nodes'),
    icon: pasteIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable() && PipelineClipboard.hasContent(),
    execute: async () => {
      const model = editable()?.editorModel;
      if (!model) {
        return;
      }
      // the system clipboard first (maybe nodes copied in another tab)
      const fragment = await PipelineClipboard.read();
      if (fragment && !model.isDisposed) {
        model.paste(fragment, PipelineClipboard.nextOffset());
      }
    }
  });

  commands.addCommand(CommandIDs.selectAll, {
    label: trans.__('Select All Nodes'),
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable(),
    execute: () => {
      editable()?.editorModel.selectAll();
    }
  });

  commands.addCommand(CommandIDs.addComment, {
    label: trans.__('Add Comment'),
    caption: trans.__(
      'Add a comment to the canvas, attached to the selected nodes'
    ),
    icon: addIcon,
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable(),
    execute: () => {
      const widget = editable();
      if (!widget) {
        return;
      }
      const model = widget.editorModel;
      const canvas = (widget as PipelineEditorWidget).content.canvas.current;
      const center = canvas?.center() ?? { x: 0, y: 0 };
      model.addComment({
        x: center.x - 90,
        y: center.y - 120,
        nodeRefs: model.nodes
          .filter(n => model.selection.has(n.id))
          .map(n => n.id)
      });
    }
  });

  commands.addCommand(CommandIDs.groupIntoSupernode, {
    label: trans.__('Group into Supernode'),
    caption: trans.__(
      'Move the selected nodes into a supernode (a group that can be expanded, collapsed and opened)'
    ),
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => {
      const model = editable()?.editorModel;
      return !!model?.nodes.some(
        n => model.selection.has(n.id) && n.type !== 'binding'
      );
    },
    execute: () => {
      const widget = editable();
      widget?.editorModel.groupIntoSupernode();
      widget?.focusCanvas();
    }
  });

  commands.addCommand(CommandIDs.ungroupSupernode, {
    label: trans.__('Ungroup Supernode'),
    caption: trans.__("Put the selected supernode's nodes back in its place"),
    describedBy: { args: EDITOR_ARGS },
    isVisible: () => !!editable()?.editorModel.selectedNode?.subflow_ref,
    isEnabled: () => !!editable()?.editorModel.selectedNode?.subflow_ref,
    execute: () => {
      const widget = editable();
      const node = widget?.editorModel.selectedNode;
      if (widget && node) {
        widget.editorModel.ungroupSupernode(node.id);
        widget.focusCanvas();
      }
    }
  });

  commands.addCommand(CommandIDs.fitView, {
    label: trans.__('Fit Pipeline in View'),
    describedBy: { args: EDITOR_ARGS },
    isEnabled: () => !!editable(),
    execute: () => {
      editable()?.fitView();
    }
  });
}
