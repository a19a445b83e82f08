/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Starting runs: from the editor (Run), again from the Runs panel, and after
 * a publish to Airflow (wait for the import at the pushed commit, then
 * trigger). Every failure is told in words; the pipeline is never touched.
 */

import {
  Dialog,
  Notification,
  ReactWidget,
  showDialog
} from '@jupyterlab/apputils';
import * as React from 'react';

import { showProblems } from '../editor/dialogs';
import { MLPipeRequestError } from '../request';
import type { IPipelineEditor, MLPipeAPI } from '../tokens';
import { RunsClient } from './client';
import type { RunsContext } from './context';
import { IImportWaitState, importWaitText, waitForImport } from './importWait';
import {
  IPipelineParameter,
  parametersFromValues,
  pipelineParameters
} from './params';
import { askRunChoice, IRunChoice } from './runDialog';
import type { IPublishStatus, IRun, IStartRunRequest } from './types';

/** The runtime configurations, or null (and a message) when they cannot be read. */
export async function readConfigs(
  ctx: RunsContext
): Promise<MLPipeAPI.IRuntimeConfig[] | null> {
  try {
    return await ctx.catalogs.refresh<MLPipeAPI.IRuntimeConfig>(
      'runtime-configs'
    );
  } catch (error) {
    await showProblems(
      ctx.trans.__('Cannot read the runtime configurations'),
      error,
      ctx.trans
    );
    return null;
  }
}

/** POST runs; null (and the reason, problems included) when it did not start. */
export async function startRun(
  ctx: RunsContext,
  body: IStartRunRequest,
  options: { editor?: IPipelineEditor; pendingMessage?: string } = {}
): Promise<IRun | null> {
  const { trans } = ctx;
  const pending = RunsClient.start(body);
  if (options.pendingMessage) {
    Notification.promise(pending as Promise<any>, {
      pending: { message: options.pendingMessage, options: {} },
      success: {
        message: () => trans.__('Run started'),
        options: { autoClose: 2000 }
      },
      error: {
        message: () => trans.__('The run did not start'),
        options: { autoClose: 3000 }
      }
    });
  }
  try {
    const run = await pending;
    ctx.announce(run);
    return run;
  } catch (error) {
    if (
      options.editor &&
      error instanceof MLPipeRequestError &&
      error.problems.length
    ) {
      options.editor.editorModel.setProblems(error.problems);
    }
    await showProblems(trans.__('The run did not start'), error, trans);
    return null;
  }
}

/** Options of {@link runFromEditor}. */
export interface IRunFromEditorOptions {
  /** Skip the dialog: run with this configuration. */
  runtimeConfig?: string;
  /** Overrides used when the dialog is skipped. */
  params?: { [name: string]: unknown };
  /** Local, when the dialog is skipped: false runs every node (no step caching). */
  cache?: boolean;
  /**
   * A partial local run (node ids): only these nodes, from these (and their
   * descendants) or up to these (and their ancestors).
   */
  partial?: { only?: string[]; from?: string[]; to?: string[] };
}

/**
 * Run the pipeline of an editor: ask where and with which parameters, send
 * the unsaved text for a local run (an Airflow run publishes the saved file,
 * so it is saved first), and return the run started.
 */
export async function runFromEditor(
  ctx: RunsContext,
  editor: IPipelineEditor,
  options: IRunFromEditorOptions = {}
): Promise<IRun | null> {
  const { trans } = ctx;
  let configs = await readConfigs(ctx);
  if (!configs) {
    return null;
  }
  const partial = options.partial;
  if (partial) {
    // on Airflow a partial run clears tasks of an existing run (the Runs panel's "From here")
    configs = configs.filter(c => c.type === 'local');
  }
  const model = editor.editorModel;
  const params = pipelineParameters(model.pipelineData().mlpipe);
  const dirty = editor.context.model.dirty;
  let choice: IRunChoice | null;
  if (options.runtimeConfig) {
    const config = configs.find(c => c.name === options.runtimeConfig);
    if (!config) {
      await showProblems(
        trans.__('The run did not start'),
        new Error(
          trans.__(
            'There is no runtime configuration named "%1".',
            options.runtimeConfig
          )
        ),
        trans
      );
      return null;
    }
    choice = {
      runtimeConfig: config.name,
      params: (options.params ?? {}) as IRunChoice['params'],
      publish: config.type === 'airflow',
      cache: options.cache ?? true
    };
  } else {
    choice = await askRunChoice({
      trans,
      title: partial
        ? trans.__('Run part of the pipeline')
        : trans.__('Run pipeline'),
      accept: trans.__('Run'),
      intro: partial
        ? trans.__(
            'Run part of "%1" on this machine; the nodes it needs reuse their earlier results.',
            model.name
          )
        : trans.__('Run "%1" and follow its nodes here.', model.name),
      configs,
      params,
      dirty
    });
  }
  if (!choice) {
    return null;
  }
  const config = configs.find(c => c.name === choice!.runtimeConfig);
  const body: IStartRunRequest = {
    path: editor.context.path,
    runtime_config: choice.runtimeConfig,
    params: choice.params
  };
  let pendingMessage: string | undefined;
  if (config?.type === 'airflow') {
    // Airflow runs what was published, i.e. the saved file
    if (dirty) {
      try {
        await editor.context.save();
      } catch (error) {
        await showProblems(
          trans.__('The pipeline could not be saved'),
          error,
          trans
        );
        return null;
      }
    }
    if (choice.publish) {
      body.publish = true;
      body.import_timeout = ctx.settings.importTimeout;
      pendingMessage = trans.__(
        'Publishing %1 and waiting for Airflow to import it…',
        model.name
      );
    } else {
      pendingMessage = trans.__('Triggering %1 on Airflow…', model.name);
    }
  } else {
    if (dirty) {
      body.content = model.toString();
    }
    if (!choice.cache) {
      body.cache = false;
    }
    if (partial?.only?.length) {
      body.only = partial.only;
    }
    if (partial?.from?.length) {
      body.from = partial.from;
    }
    if (partial?.to?.length) {
      body.to = partial.to;
    }
  }
  return startRun(ctx, body, { editor, pendingMessage });
}

/**
 * Run a listed run again: the same pipeline (or DAG) and configuration, with
 * parameters starting from that run's values.
 */
export async function rerun(
  ctx: RunsContext,
  run: IRun,
  readPipelineParameters: (path: string) => Promise<IPipelineParameter[]>
): Promise<IRun | null> {
  const { trans } = ctx;
  const configs = await readConfigs(ctx);
  if (!configs) {
    return null;
  }
  let params: IPipelineParameter[] = [];
  if (run.pipeline) {
    params = await readPipelineParameters(run.pipeline).catch(() => []);
  }
  if (!params.length) {
    params = parametersFromValues(run.params);
  }
  const isAirflow = run.kind === 'airflow';
  const choice = await askRunChoice({
    trans,
    title: isAirflow ? trans.__('Trigger again') : trans.__('Run again'),
    accept: isAirflow ? trans.__('Trigger') : trans.__('Run'),
    intro: run.pipeline
      ? trans.__('Run "%1" again.', run.pipeline)
      : trans.__('Trigger DAG "%1" again.', run.dag_id),
    configs: run.pipeline
      ? configs
      : configs.filter(c => c.name === run.runtime_config),
    params,
    runtimeConfig: run.runtime_config,
    fixedConfig: !run.pipeline,
    previous: run.params
  });
  if (!choice) {
    return null;
  }
  const body: IStartRunRequest = run.pipeline
    ? { path: run.pipeline, runtime_config: choice.runtimeConfig }
    : { dag_id: run.dag_id, runtime_config: choice.runtimeConfig };
  body.params = choice.params;
  if (choice.publish) {
    body.publish = true;
    body.import_timeout = ctx.settings.importTimeout;
  }
  if (!choice.cache) {
    body.cache = false;
  }
  return startRun(ctx, body, {
    pendingMessage: isAirflow
      ? trans.__('Triggering %1…', run.dag_id)
      : undefined
  });
}

/** Airflow's import errors of a DAG file, in a dialog body. */
function ImportErrors(props: {
  status: IPublishStatus;
  intro: string;
}): JSX.Element {
  return (
    <div className="jp-MLPipe-ProblemsDialog">
      <p>{props.intro}</p>
      {props.status.message && <p>{props.status.message}</p>}
      <ul className="jp-MLPipe-ProblemList">
        {props.status.errors.map((e, i) => (
          <li key={i} className="jp-MLPipe-Problem">
            {e.filename && (
              <div className="jp-MLPipe-ImportError-file">{e.filename}</div>
            )}
            <pre className="jp-MLPipe-ImportError-text">{e.message}</pre>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Options of {@link triggerAfterPublish}. */
export interface ITriggerAfterPublishOptions {
  runtimeConfig: string;
  dagId: string;
  /** The pipeline (path from the server root), when known. */
  path?: string;
  /** The commit the publish pushed (null when the DAG was already up to date). */
  commit?: string | null;
  /** Its declared parameters. */
  params: IPipelineParameter[];
}

/**
 * After a publish: ask for parameters, wait until Airflow imported the DAG at
 * the pushed commit (showing its import errors if any), then trigger it.
 */
export async function triggerAfterPublish(
  ctx: RunsContext,
  options: ITriggerAfterPublishOptions
): Promise<IRun | null> {
  const { trans } = ctx;
  const configs = await readConfigs(ctx);
  if (!configs) {
    return null;
  }
  const choice = await askRunChoice({
    trans,
    title: trans.__('Trigger run'),
    accept: trans.__('Trigger'),
    intro: trans.__(
      'Once Airflow has imported DAG "%1", trigger a run with these parameters.',
      options.dagId
    ),
    configs: configs.filter(c => c.name === options.runtimeConfig),
    params: options.params,
    runtimeConfig: options.runtimeConfig,
    fixedConfig: true
  });
  if (!choice) {
    return null;
  }

  const abort = new AbortController();
  const started = Date.now();
  // what the notification shows; the counter moves every second, polls or not
  const state: IImportWaitState = {
    dagId: options.dagId,
    commit: options.commit,
    elapsed: 0
  };
  const actions = () => [
    ...(state.error
      ? [
          {
            label: trans.__('Details'),
            callback: (event: Event) => {
              event.preventDefault(); // keep the notification
              void showProblems(
                trans.__('Airflow cannot be checked yet'),
                new Error(
                  trans.__(
                    '%1\n\nmlpipe-lab keeps trying until %2 seconds have passed; stop waiting to trigger the DAG later from the Runs panel.',
                    state.error ?? '',
                    ctx.settings.importTimeout
                  )
                ),
                trans
              );
            }
          }
        ]
      : []),
    {
      label: trans.__('Stop waiting'),
      callback: () => abort.abort()
    }
  ];
  const toast = Notification.emit(importWaitText(state, trans), 'in-progress', {
    autoClose: false,
    actions: actions()
  });
  let hadError = false;
  const show = () => {
    state.elapsed = Math.round((Date.now() - started) / 1000);
    Notification.update({
      id: toast,
      message: importWaitText(state, trans),
      type: state.error ? 'warning' : 'in-progress',
      // the Details button comes with the first error
      ...(!!state.error !== hadError ? { actions: actions() } : {})
    });
    hadError = !!state.error;
  };
  const ticker = setInterval(show, 1000);
  const outcome = await waitForImport({
    runtimeConfig: options.runtimeConfig,
    dagId: options.dagId,
    commit: options.commit,
    interval: Math.max(1000, ctx.settings.pollInterval),
    timeout: ctx.settings.importTimeout * 1000,
    signal: abort.signal,
    onStatus: status => {
      state.status = status;
      state.error = null;
      state.failures = 0;
      show();
    },
    onError: (message, failures) => {
      state.error = message;
      state.failures = failures;
      show();
    }
  }).finally(() => clearInterval(ticker));
  Notification.dismiss(toast);

  switch (outcome.state) {
    case 'cancelled':
      return null;
    case 'import_error':
      await showDialog({
        title: trans.__('Airflow cannot import the DAG'),
        body: ReactWidget.create(
          <ImportErrors
            status={outcome.status}
            intro={trans.__(
              'Airflow reported errors importing DAG "%1"; it was not triggered. Fix the pipeline and submit it again.',
              options.dagId
            )}
          />
        ),
        buttons: [Dialog.okButton({ label: trans.__('Close') })]
      });
      return null;
    case 'timeout':
      await showProblems(
        trans.__('Airflow has not imported the DAG yet'),
        new Error(
          trans.__(
            'Airflow did not import DAG "%1"%2 within %3 seconds, so it was not triggered. Check that Airflow syncs the DAG repository, then trigger it from the Runs panel.',
            options.dagId,
            options.commit
              ? trans.__(' at commit %1', options.commit.slice(0, 10))
              : '',
            ctx.settings.importTimeout
          )
        ),
        trans
      );
      return null;
    case 'failed':
      await showProblems(
        trans.__('Cannot check whether Airflow imported the DAG'),
        new Error(outcome.message),
        trans
      );
      return null;
  }

  const body: IStartRunRequest = options.path
    ? { path: options.path, runtime_config: options.runtimeConfig }
    : { dag_id: options.dagId, runtime_config: options.runtimeConfig };
  body.params = choice.params;
  const run = await startRun(ctx, body, {
    pendingMessage: trans.__('Triggering %1…', options.dagId)
  });
  if (run) {
    ctx.openRun(run);
  }
  return run;
}
