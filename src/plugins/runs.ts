/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { runIcon, stopIcon } from '@jupyterlab/ui-components';
import { find } from '@lumino/algorithm';

import { rerun, runFromEditor, triggerAfterPublish } from '../runs/actions';
import { RunsClient } from '../runs/client';
import { RunsContext } from '../runs/context';
import { EditorRunController } from '../runs/editorRun';
import { runsIcon } from '../runs/icons';
import {
  DEFAULT_RUNS_SETTINGS,
  IRunsSettings,
  RUNS_PANEL_ID,
  RUNS_PLUGIN_ID,
  RunCommandIDs
} from '../runs/ids';
import { createLogViewer, logWidgetId } from '../runs/logView';
import { RunsPanel } from '../runs/panel';
import { parametersOfPipelineText, pipelineParameters } from '../runs/params';
import type { IRun, IRunTask } from '../runs/types';
import {
  ICatalogStore,
  IPipelineEditor,
  IPipelineEditorTracker,
  ISubmitFollowUps,
  TRANSLATION_DOMAIN
} from '../tokens';

/** Arguments naming a run. */
const RUN_ARGS = {
  runtimeConfig: { type: 'string', description: 'Runtime configuration name' },
  dagId: { type: 'string', description: 'DAG id' },
  runId: { type: 'string', description: 'Run id' }
};

/**
 * Runs: the editor's Run command with per-node status and live logs, the
 * Runs sidebar panel, task log viewers, and "Trigger run" after a publish.
 */
export const runsPlugin: JupyterFrontEndPlugin<void> = {
  id: RUNS_PLUGIN_ID,
  description:
    'Run pipelines from the editor with live node states and logs, the Runs panel, and triggering after a submit.',
  autoStart: true,
  requires: [IPipelineEditorTracker, ICatalogStore, ISubmitFollowUps],
  optional: [
    ILabShell,
    ILayoutRestorer,
    ICommandPalette,
    ISettingRegistry,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    tracker: IPipelineEditorTracker,
    catalogs: ICatalogStore,
    followUps: ISubmitFollowUps,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands, shell } = app;
    const controllers = new Map<IPipelineEditor, EditorRunController>();

    const activatePanel = () => {
      if (labShell) {
        labShell.activateById(RUNS_PANEL_ID);
      } else {
        shell.activateById(RUNS_PANEL_ID);
      }
    };

    const openLog = (run: IRun, task: IRunTask) => {
      const id = logWidgetId(run, task);
      const existing = find(shell.widgets('main'), w => w.id === id);
      if (existing) {
        shell.activateById(id);
        return;
      }
      const viewer = createLogViewer(ctx, run, task);
      // beside the editor, not below it: a run bar and a log above the canvas left
      // it a strip of a few pixels (issue 18)
      shell.add(viewer, 'main', { mode: 'split-right' });
      shell.activateById(viewer.id);
    };

    const ctx: RunsContext = new RunsContext({
      trans,
      catalogs,
      openLog,
      openRun: run => {
        activatePanel();
        panel.showRun(run);
      }
    });

    const readParameters = async (path: string) => {
      const model = await app.serviceManager.contents.get(path, {
        type: 'file',
        format: 'text',
        content: true
      });
      return parametersOfPipelineText(String(model.content ?? ''));
    };

    const controllerOf = (editor: IPipelineEditor) => {
      let controller = controllers.get(editor);
      if (!controller) {
        controller = new EditorRunController(editor, ctx);
        controllers.set(editor, controller);
        controller.changed.connect(() => {
          commands.notifyCommandChanged(RunCommandIDs.runPipeline);
          commands.notifyCommandChanged(RunCommandIDs.cancelRun);
        });
        editor.disposed.connect(() => controllers.delete(editor));
      }
      return controller;
    };

    /** A run started elsewhere (Runs panel) of a pipeline open in an editor shows there too. */
    const showInEditor = (run: IRun) => {
      if (run.kind !== 'local' || !run.pipeline) {
        return;
      }
      const editor = tracker.find(w => w.context.path === run.pipeline);
      if (editor && controllerOf(editor).run?.id !== run.id) {
        controllerOf(editor).show(run);
      }
    };

    const panel = new RunsPanel({
      ctx,
      icon: runsIcon,
      rerun: async run => {
        const started = await rerun(ctx, run, readParameters);
        if (started) {
          showInEditor(started);
        }
        return started;
      }
    });
    panel.id = RUNS_PANEL_ID;
    panel.title.icon = runsIcon;
    panel.title.caption = trans.__('Runs');
    shell.add(panel, 'left', { rank: 712 });
    restorer?.add(panel, panel.id);

    const current = (): IPipelineEditor | null => {
      const widget = tracker.currentWidget;
      return widget && !widget.editorModel.error && widget.context.isReady
        ? widget
        : null;
    };

    commands.addCommand(RunCommandIDs.runPipeline, {
      label: args =>
        args.toolbar ? trans.__('Run') : trans.__('Run Pipeline'),
      caption: trans.__(
        'Run the pipeline (on this machine with the local runtime) and follow its nodes and logs'
      ),
      icon: args => (args.isPalette ? undefined : runIcon),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            toolbar: {
              type: 'boolean',
              description: 'Whether the command is run from the editor toolbar.'
            },
            isPalette: { type: 'boolean' },
            runtimeConfig: {
              type: 'string',
              description: trans.__(
                'Runtime configuration to run with; asks when not given.'
              )
            },
            params: {
              type: 'object',
              description: trans.__(
                'Parameter overrides, used with runtimeConfig.'
              )
            },
            cache: {
              type: 'boolean',
              description: trans.__(
                'Local runs with runtimeConfig: false runs every node (no step caching).'
              )
            }
          }
        }
      },
      isEnabled: () => {
        const editor = current();
        return !!editor && !controllers.get(editor)?.active;
      },
      execute: async args => {
        const editor = current();
        if (!editor) {
          return null;
        }
        const run = await runFromEditor(ctx, editor, {
          runtimeConfig:
            typeof args.runtimeConfig === 'string'
              ? args.runtimeConfig
              : undefined,
          params:
            args.params && typeof args.params === 'object'
              ? (args.params as { [name: string]: unknown })
              : undefined,
          cache: typeof args.cache === 'boolean' ? args.cache : undefined
        });
        if (run && !editor.isDisposed) {
          controllerOf(editor).show(run);
        }
        return run;
      }
    });

    // Partial local runs of the selected node, from the canvas' context menu.
    const selectedNode = (): { editor: IPipelineEditor; id: string } | null => {
      const editor = current();
      const node = editor?.editorModel.selectedNode;
      return editor && node ? { editor, id: node.id } : null;
    };
    const partialCommands: [string, string, string, 'only' | 'from' | 'to'][] =
      [
        [
          RunCommandIDs.runNode,
          trans.__('Run This Node'),
          trans.__(
            'Run only this node on this machine; its inputs come from earlier runs'
          ),
          'only'
        ],
        [
          RunCommandIDs.runFromNode,
          trans.__('Run From Here'),
          trans.__(
            'Run this node and everything after it on this machine; earlier nodes reuse their results'
          ),
          'from'
        ],
        [
          RunCommandIDs.runToNode,
          trans.__('Run Up To Here'),
          trans.__(
            'Run this node and everything it depends on, on this machine'
          ),
          'to'
        ]
      ];
    for (const [id, label, caption, part] of partialCommands) {
      commands.addCommand(id, {
        label,
        caption,
        isVisible: () => !!selectedNode(),
        isEnabled: () => {
          const chosen = selectedNode();
          return !!chosen && !controllers.get(chosen.editor)?.active;
        },
        execute: async () => {
          const chosen = selectedNode();
          if (!chosen) {
            return null;
          }
          const run = await runFromEditor(ctx, chosen.editor, {
            partial: { [part]: [chosen.id] }
          });
          if (run && !chosen.editor.isDisposed) {
            controllerOf(chosen.editor).show(run);
          }
          return run;
        }
      });
    }

    commands.addCommand(RunCommandIDs.cancelRun, {
      label: trans.__('Cancel Pipeline Run'),
      caption: trans.__('Stop the run started from this editor'),
      icon: args => (args.isPalette ? undefined : stopIcon),
      describedBy: {
        args: { type: 'object', properties: { isPalette: { type: 'boolean' } } }
      },
      isEnabled: () => {
        const editor = current();
        return !!editor && !!controllers.get(editor)?.active;
      },
      execute: async () => {
        const editor = current();
        const controller = editor ? controllers.get(editor) : undefined;
        await controller?.cancel();
      }
    });

    commands.addCommand(RunCommandIDs.openRuns, {
      label: trans.__('Show Runs'),
      caption: trans.__('Open the Runs panel in the sidebar'),
      icon: args => (args.isPalette ? undefined : runsIcon),
      describedBy: {
        args: {
          type: 'object',
          properties: { ...RUN_ARGS, isPalette: { type: 'boolean' } }
        }
      },
      execute: args => {
        activatePanel();
        const { runtimeConfig, dagId, runId } = args;
        if (
          typeof runtimeConfig === 'string' &&
          typeof dagId === 'string' &&
          typeof runId === 'string'
        ) {
          panel.showRun({
            runtime_config: runtimeConfig,
            dag_id: dagId,
            id: runId
          } as IRun);
        }
      }
    });

    commands.addCommand(RunCommandIDs.openRunLog, {
      label: trans.__('Open Task Log'),
      caption: trans.__('Open the log of a task of a run in the main area'),
      describedBy: {
        args: {
          type: 'object',
          required: ['runtimeConfig', 'dagId', 'runId', 'taskId'],
          properties: {
            ...RUN_ARGS,
            taskId: { type: 'string', description: 'Task id' },
            tryNumber: { type: 'integer', description: 'Try (default: latest)' }
          }
        }
      },
      execute: async args => {
        const run = await RunsClient.get({
          runtime_config: String(args.runtimeConfig),
          dag_id: String(args.dagId),
          id: String(args.runId)
        });
        const task = run.tasks.find(t => t.task_id === args.taskId);
        if (!task) {
          throw new Error(
            trans.__('Run %1 has no task %2.', run.id, String(args.taskId))
          );
        }
        openLog(
          run,
          typeof args.tryNumber === 'number'
            ? { ...task, try_number: args.tryNumber }
            : task
        );
      }
    });

    commands.addCommand(RunCommandIDs.triggerRun, {
      label: trans.__('Trigger Submitted Pipeline'),
      caption: trans.__(
        'Wait until Airflow has imported the submitted DAG, then trigger it with parameters'
      ),
      describedBy: {
        args: {
          type: 'object',
          required: ['runtimeConfig', 'dagId'],
          properties: {
            runtimeConfig: RUN_ARGS.runtimeConfig,
            dagId: RUN_ARGS.dagId,
            path: { type: 'string', description: 'Pipeline path' },
            commit: { type: 'string', description: 'The pushed commit' }
          }
        }
      },
      execute: async args => {
        const path = typeof args.path === 'string' ? args.path : undefined;
        const editor = path
          ? tracker.find(w => w.context.path === path)
          : undefined;
        const params = editor
          ? pipelineParameters(editor.editorModel.pipelineData().mlpipe)
          : path
            ? await readParameters(path).catch(() => [])
            : [];
        return triggerAfterPublish(ctx, {
          runtimeConfig: String(args.runtimeConfig),
          dagId: String(args.dagId),
          path,
          commit: typeof args.commit === 'string' ? args.commit : null,
          params
        });
      }
    });

    // offered in the "Pipeline submitted" dialog of an Airflow configuration
    followUps.add({
      label: trans.__('Trigger run'),
      applies: config => config?.type === 'airflow',
      run: async (editor, result, runtimeConfig) => {
        await commands.execute(RunCommandIDs.triggerRun, {
          runtimeConfig,
          dagId: result.dag_id,
          path: editor.context.path,
          ...(result.commit ? { commit: result.commit } : {})
        });
      }
    });

    // the toolbar's Run button follows the current editor and its loading
    const refresh = () => {
      commands.notifyCommandChanged(RunCommandIDs.runPipeline);
      commands.notifyCommandChanged(RunCommandIDs.cancelRun);
    };
    tracker.currentChanged.connect(refresh);
    tracker.widgetAdded.connect((_, widget) => {
      void widget.context.ready.then(refresh);
      widget.editorModel.contentChanged.connect(refresh);
    });

    if (palette) {
      const category = trans.__('ML Pipelines');
      for (const command of [
        RunCommandIDs.runPipeline,
        RunCommandIDs.cancelRun,
        RunCommandIDs.openRuns
      ]) {
        palette.addItem({ command, category, args: { isPalette: true } });
      }
    }

    if (settingRegistry) {
      settingRegistry
        .load(RUNS_PLUGIN_ID)
        .then(loaded => {
          const apply = () => {
            const value: Partial<IRunsSettings> = {};
            for (const key of Object.keys(DEFAULT_RUNS_SETTINGS) as Array<
              keyof IRunsSettings
            >) {
              const composite = loaded.get(key).composite;
              if (typeof composite === typeof DEFAULT_RUNS_SETTINGS[key]) {
                (value as any)[key] = composite;
              }
            }
            ctx.updateSettings(value);
          };
          apply();
          loaded.changed.connect(apply);
        })
        .catch(reason => {
          console.warn(
            `mlpipe-lab: cannot load the settings of ${RUNS_PLUGIN_ID}`,
            reason
          );
        });
    }
  }
};
