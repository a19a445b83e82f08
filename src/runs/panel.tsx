/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The Runs sidebar panel: pick a runtime configuration (and a DAG for
 * Airflow), see its runs — state, DAG, start, duration — refreshed while any
 * is running; expand one for its tasks, open a task's log, cancel, run again.
 */

import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { LabIcon, refreshIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import * as React from 'react';

import { describeError, entryLabel } from '../api';
import type { MLPipeAPI } from '../tokens';
import { RunsClient } from './client';
import type { RunsContext } from './context';
import { Decision, DecisionBox, sendDecision } from './decision';
import {
  awaitingApproval,
  elapsed,
  failureReport,
  formatDuration,
  gatesText,
  isRunActive,
  itemsProgress,
  runKey,
  stateDetails,
  startedText,
  STATUS_LABELS,
  statusKind,
  taskName,
  waitingGates
} from './states';
import type { IRun, IRunTask } from './types';
import { RunsListModel } from './runsModel';

/** Options of the panel. */
export interface IRunsPanelOptions {
  ctx: RunsContext;
  icon: LabIcon;
  /** Run a run again, asking for parameters (false when it could not start). */
  rerun: (run: IRun) => Promise<IRun | null>;
}

/** The Runs panel widget. */
export class RunsPanel extends ReactWidget {
  constructor(private _options: IRunsPanelOptions) {
    super();
    this.addClass('jp-MLPipe-RunsPanel');
    const { ctx } = _options;
    this.model = new RunsListModel({
      interval: () => ctx.settings.pollInterval,
      limit: () => ctx.settings.listLimit
    });
    this.model.changed.connect(() => this.update());
    ctx.runChanged.connect(this._onRunChanged, this);
    ctx.catalogs.changed.connect(this._onCatalogChanged, this);
  }

  readonly model: RunsListModel;

  /** Show a run: select its configuration (and DAG), expand it. */
  showRun(run: IRun): void {
    this._pendingExpand = runKey(run);
    this._select(run.runtime_config, run.dag_id);
    this._expandPending();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._options.ctx.runChanged.disconnect(this._onRunChanged, this);
    this._options.ctx.catalogs.changed.disconnect(this._onCatalogChanged, this);
    this.model.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._loadConfigs().then(() => {
      if (!this.model.runtimeConfig) {
        this._select(this._defaultConfig(), '');
      } else {
        this.model.refresh();
      }
    });
  }

  render(): JSX.Element {
    return (
      <RunsPanelView
        model={this.model}
        trans={this._options.ctx.trans}
        icon={this._options.icon}
        configs={this._configs}
        configError={this._configError}
        actionError={this._actionError}
        onSelectConfig={name => this._select(name, '')}
        onRefresh={() => {
          void this._loadConfigs();
          this.model.refresh();
        }}
        onDagId={dagId => this.model.setDagId(dagId.trim())}
        onCancel={run => void this._cancel(run)}
        onRerun={run => void this._rerun(run)}
        onRunFrom={(run, taskId) => void this._runFrom(run, taskId)}
        onOpenLog={(run, task) => this._options.ctx.openLog(run, task)}
        onDecide={(run, task, decision, comment) =>
          this._decide(run, task, decision, comment)
        }
      />
    );
  }

  private _select(name: string, dagId: string): void {
    const config = this._configs.find(c => c.name === name);
    this._actionError = null;
    this.model.select(name, {
      isAirflow: config
        ? config.type === 'airflow'
        : !!dagId && name !== 'local',
      dagId
    });
  }

  private _defaultConfig(): string {
    return (
      this._configs.find(c => c.name === 'local')?.name ??
      this._configs[0]?.name ??
      'local'
    );
  }

  private async _loadConfigs(): Promise<void> {
    try {
      // read again each time the panel is shown: configurations may have
      // been added elsewhere (the catalog panel, the CLI)
      this._configs =
        await this._options.ctx.catalogs.refresh<MLPipeAPI.IRuntimeConfig>(
          'runtime-configs'
        );
      this._configError = null;
    } catch (error) {
      this._configError = describeError(error).message;
    }
    this.update();
  }

  private _onCatalogChanged(_: unknown, kind: MLPipeAPI.CatalogKind): void {
    if (kind === 'runtime-configs') {
      this._configs =
        this._options.ctx.catalogs.items<MLPipeAPI.IRuntimeConfig>(
          'runtime-configs'
        );
      this.update();
    }
  }

  private _onRunChanged(_: unknown, run: IRun): void {
    if (
      run.runtime_config === this.model.runtimeConfig &&
      (!this.model.needsDag || run.dag_id === this.model.dagId)
    ) {
      this.model.refresh();
    }
  }

  /** Expand the run asked for once the list has it. */
  private _expandPending(): void {
    const key = this._pendingExpand;
    if (!key) {
      return;
    }
    const found = this.model.runs.find(r => runKey(r) === key);
    if (found) {
      this._pendingExpand = null;
      this.model.expand(found);
      requestAnimationFrame(() => {
        this.node
          .querySelector(`[data-run-key="${CSS.escape(key)}"]`)
          ?.scrollIntoView({ block: 'nearest' });
      });
    } else if (this.model.loading || !this.model.loaded) {
      const retry = () => {
        if (!this.model.loading) {
          this.model.changed.disconnect(retry);
          this._expandPending();
        }
      };
      this.model.changed.connect(retry);
    } else {
      // not in the list yet (it was just started): read again once
      this.model.refresh();
      this._pendingExpand = null;
    }
  }

  private async _cancel(run: IRun): Promise<void> {
    this._actionError = null;
    try {
      const after = await RunsClient.cancel(run);
      this._options.ctx.announce(after);
    } catch (error) {
      this._actionError = this._options.ctx.trans.__(
        'Could not cancel run %1: %2',
        run.id,
        describeError(error).message
      );
    }
    this.model.refresh();
    this.update();
  }

  /** Approve or reject a task; throws what the server said (shown by the decision box). */
  private async _decide(
    run: IRun,
    task: IRunTask,
    decision: Decision,
    comment: string
  ): Promise<void> {
    const after = await sendDecision(run, task, decision, comment);
    this._options.ctx.announce(after);
    this.model.details(run)?.update(after);
    this.model.refresh();
  }

  /** Run a finished run again from one of its tasks (the task and its descendants). */
  private async _runFrom(run: IRun, taskId: string): Promise<void> {
    this._actionError = null;
    this.update();
    try {
      const started = await RunsClient.clear(run, { from: [taskId] });
      this._options.ctx.announce(started);
      this.showRun(started);
    } catch (error) {
      this._actionError = this._options.ctx.trans.__(
        'Could not run %1 again from %2: %3',
        run.id,
        taskId,
        describeError(error).message
      );
      this.update();
    }
  }

  private async _rerun(run: IRun): Promise<void> {
    this._actionError = null;
    this.update();
    const started = await this._options.rerun(run);
    if (started) {
      this.showRun(started);
    }
  }

  private _configs: MLPipeAPI.IRuntimeConfig[] = [];
  private _configError: string | null = null;
  private _actionError: string | null = null;
  private _pendingExpand: string | null = null;
}

function StatusBadge(props: {
  state: string;
  trans: TranslationBundle;
  /** A fan-out's items done, e.g. `3/5`. */
  progress?: string | null;
}): JSX.Element {
  const kind = statusKind(props.state);
  return (
    <span className="jp-MLPipe-RunState" data-status={kind}>
      {props.trans.__(STATUS_LABELS[kind])}
      {props.progress && (
        <span className="jp-MLPipe-RunState-items">{props.progress}</span>
      )}
    </span>
  );
}

/** The tooltip of a task row: its message and what its state means. */
function taskTitle(
  task: IRunTask,
  trans: TranslationBundle
): string | undefined {
  const parts = stateDetails(task).map(([text, ...args]) =>
    trans.__(text, ...(args as any[]))
  );
  if (task.message) {
    parts.unshift(task.message);
  }
  return parts.length ? parts.join('\n') : undefined;
}

function RunsPanelView(props: {
  model: RunsListModel;
  trans: TranslationBundle;
  icon: LabIcon;
  configs: MLPipeAPI.IRuntimeConfig[];
  configError: string | null;
  actionError: string | null;
  onSelectConfig: (name: string) => void;
  onRefresh: () => void;
  onDagId: (dagId: string) => void;
  onCancel: (run: IRun) => void;
  onRerun: (run: IRun) => void;
  onRunFrom: (run: IRun, taskId: string) => void;
  onOpenLog: (run: IRun, task: IRun['tasks'][0]) => void;
  onDecide: (
    run: IRun,
    task: IRunTask,
    decision: Decision,
    comment: string
  ) => Promise<void>;
}): JSX.Element {
  const { model, trans } = props;
  const [dagText, setDagText] = React.useState(model.dagId);
  React.useEffect(() => setDagText(model.dagId), [model.dagId]);
  // durations of running runs move on their own
  const [, setNow] = React.useState(0);
  const moving = model.runs.some(r => isRunActive(r.state));
  React.useEffect(() => {
    if (!moving) {
      return;
    }
    const timer = setInterval(() => setNow(n => n + 1), 1000);
    return () => clearInterval(timer);
  }, [moving]);

  const configNames = props.configs.map(c => c.name);
  if (model.runtimeConfig && !configNames.includes(model.runtimeConfig)) {
    configNames.unshift(model.runtimeConfig);
  }
  const dagIds = [...new Set(model.runs.map(r => r.dag_id))];

  return (
    <div className="jp-MLPipe-Runs">
      <header className="jp-MLPipe-Runs-header">
        <props.icon.react tag="span" className="jp-MLPipe-Runs-icon" />
        <h2>{trans.__('Runs')}</h2>
        <button
          type="button"
          className="jp-MLPipe-Runs-refresh jp-mod-minimal jp-Button"
          title={trans.__('Read the runs again')}
          aria-label={trans.__('Refresh')}
          data-action="refresh"
          onClick={() => props.onRefresh()}
        >
          <refreshIcon.react tag="span" />
        </button>
      </header>
      <div className="jp-MLPipe-Runs-filters">
        <label className="jp-MLPipe-Field">
          <span>{trans.__('Runtime configuration')}</span>
          <select
            className="jp-mod-styled jp-MLPipe-Select"
            name="runtime_config"
            value={model.runtimeConfig}
            onChange={event => props.onSelectConfig(event.target.value)}
          >
            {configNames.map(name => {
              const config = props.configs.find(c => c.name === name);
              return (
                <option key={name} value={name}>
                  {config ? entryLabel(config) : name}
                </option>
              );
            })}
          </select>
        </label>
        {model.needsDag && (
          <form
            className="jp-MLPipe-Field"
            onSubmit={event => {
              event.preventDefault();
              props.onDagId(dagText);
            }}
          >
            <span>{trans.__('DAG id')}</span>
            <input
              className="jp-mod-styled"
              name="dag_id"
              list="mlpipe-runs-dag-ids"
              value={dagText}
              placeholder={trans.__('e.g. hello_world')}
              onChange={event => setDagText(event.target.value)}
              onBlur={() => props.onDagId(dagText)}
            />
            <datalist id="mlpipe-runs-dag-ids">
              {dagIds.map(id => (
                <option key={id} value={id} />
              ))}
            </datalist>
          </form>
        )}
      </div>
      {props.configError && (
        <div className="jp-MLPipe-Runs-error" role="alert">
          {trans.__(
            'Cannot read the runtime configurations: %1',
            props.configError
          )}
        </div>
      )}
      {model.error && (
        <div className="jp-MLPipe-Runs-error" role="alert">
          {model.error}
        </div>
      )}
      {props.actionError && (
        <div className="jp-MLPipe-Runs-error" role="alert">
          {props.actionError}
        </div>
      )}
      <div className="jp-MLPipe-Runs-status" aria-live="polite">
        {model.loading
          ? trans.__('Reading runs…')
          : model.autoRefreshing
            ? trans.__('Refreshing while runs are in progress')
            : ''}
      </div>
      {model.needsDag && !model.dagId && (
        <p className="jp-MLPipe-Hint">
          {trans.__(
            'Airflow runs are listed per DAG: enter the DAG id of a submitted pipeline.'
          )}
        </p>
      )}
      {model.loaded && !model.runs.length && !model.error && (
        <p className="jp-MLPipe-Hint">
          {trans.__(
            'No runs yet. Run a pipeline from its editor (Run in the toolbar).'
          )}
        </p>
      )}
      <ul className="jp-MLPipe-RunList" aria-label={trans.__('Runs')}>
        {model.runs.map(run => (
          <RunItem
            key={runKey(run)}
            run={run}
            model={model}
            trans={trans}
            onCancel={props.onCancel}
            onRerun={props.onRerun}
            onRunFrom={props.onRunFrom}
            onOpenLog={props.onOpenLog}
            onDecide={props.onDecide}
          />
        ))}
      </ul>
    </div>
  );
}

function RunItem(props: {
  run: IRun;
  model: RunsListModel;
  trans: TranslationBundle;
  onCancel: (run: IRun) => void;
  onRerun: (run: IRun) => void;
  onRunFrom: (run: IRun, taskId: string) => void;
  onOpenLog: (run: IRun, task: IRun['tasks'][0]) => void;
  onDecide: (
    run: IRun,
    task: IRunTask,
    decision: Decision,
    comment: string
  ) => Promise<void>;
}): JSX.Element {
  const { model, trans } = props;
  const watcher = model.details(props.run);
  const expanded = model.isExpanded(props.run);
  // the expanded run's own reads are newer than the list's
  const run = watcher?.run ?? props.run;
  const report = failureReport(run);
  const active = isRunActive(run.state);
  const canRerun = !!run.pipeline || run.kind === 'airflow';
  // also known collapsed: the runs list says which gates wait (Approve/Reject: expand)
  const gates = waitingGates(run);
  return (
    <li
      className={`jp-MLPipe-RunItem${expanded ? ' jp-mod-expanded' : ''}`}
      data-run-key={runKey(run)}
      data-run-id={run.id}
      data-dag-id={run.dag_id}
      data-status={statusKind(run.state)}
    >
      <button
        type="button"
        className="jp-MLPipe-RunItem-summary"
        aria-expanded={expanded}
        onClick={() => model.toggle(run)}
        title={run.id}
      >
        <span className="jp-MLPipe-RunItem-caret">{expanded ? '▾' : '▸'}</span>
        <span className="jp-MLPipe-RunItem-dag">{run.dag_id}</span>
        <StatusBadge state={run.state} trans={trans} />
        {gates.length > 0 && (
          <span
            className="jp-MLPipe-RunItem-gate"
            title={gates
              .map(g => (g.message ? `${g.label}: ${g.message}` : g.label))
              .join('\n')}
          >
            <span
              className="jp-MLPipe-RunState jp-MLPipe-RunItem-attention"
              data-status="awaiting_approval"
            >
              {trans.__('awaits approval')}
            </span>
            <span className="jp-MLPipe-RunItem-gateLabel">
              {gatesText(gates)}
            </span>
          </span>
        )}
        <span className="jp-MLPipe-RunItem-when">
          <span
            className="jp-MLPipe-RunItem-started"
            title={trans.__('Started')}
          >
            {startedText(run.started)}
          </span>
          {' · '}
          <span
            className="jp-MLPipe-RunItem-duration"
            title={trans.__('Duration')}
          >
            {formatDuration(elapsed(run))}
          </span>
        </span>
      </button>
      {expanded && (
        <div className="jp-MLPipe-RunItem-details">
          <div className="jp-MLPipe-RunItem-id">
            {trans.__('Run %1', run.id)}
            {run.pipeline ? ` · ${run.pipeline}` : ''}
          </div>
          {Object.keys(run.params ?? {}).length > 0 && (
            <div className="jp-MLPipe-RunItem-params">
              {trans.__('Parameters:')}{' '}
              {Object.entries(run.params)
                .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
                .join(', ')}
            </div>
          )}
          {report && (
            <div className="jp-MLPipe-RunItem-failure" role="alert">
              {report}
            </div>
          )}
          {run.state !== 'failed' && run.message && (
            <div className="jp-MLPipe-Hint">{run.message}</div>
          )}
          {watcher?.error && (
            <div className="jp-MLPipe-Runs-error" role="alert">
              {watcher.error}
            </div>
          )}
          <div className="jp-MLPipe-RunItem-actions">
            {active && (
              <button
                type="button"
                className="jp-mod-styled jp-mod-warn"
                data-action="cancel"
                onClick={() => props.onCancel(run)}
              >
                {trans.__('Cancel')}
              </button>
            )}
            {canRerun && (
              <button
                type="button"
                className="jp-mod-styled"
                data-action="rerun"
                onClick={() => props.onRerun(run)}
                title={trans.__('Start this pipeline again, with parameters')}
              >
                {run.kind === 'airflow'
                  ? trans.__('Trigger again…')
                  : trans.__('Run again…')}
              </button>
            )}
            {typeof run.links?.airflow === 'string' && (
              <a
                href={run.links.airflow}
                target="_blank"
                rel="noopener noreferrer"
              >
                {trans.__('Open in Airflow')}
              </a>
            )}
          </div>
          {awaitingApproval(run).map(task => (
            <DecisionBox
              key={task.task_id}
              task={task}
              trans={trans}
              decide={(decision, comment) =>
                props.onDecide(run, task, decision, comment)
              }
            />
          ))}
          {!watcher?.run && !watcher?.error && (
            <div className="jp-MLPipe-Hint">{trans.__('Reading tasks…')}</div>
          )}
          {run.tasks.length > 0 && (
            <table className="jp-MLPipe-TaskTable">
              <thead>
                <tr>
                  <th>{trans.__('Node')}</th>
                  <th>{trans.__('State')}</th>
                  <th>{trans.__('Time')}</th>
                  <th>
                    <span className="jp-MLPipe-VisuallyHidden">
                      {trans.__('Log')}
                    </span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {run.tasks.map(task => (
                  <tr
                    key={task.task_id}
                    data-task-id={task.task_id}
                    data-status={statusKind(task.state)}
                    data-reason={task.reason ?? undefined}
                    title={taskTitle(task, trans)}
                  >
                    <td className="jp-MLPipe-TaskTable-name">
                      {taskName(task)}
                      {task.try_number > 1 && (
                        <span className="jp-MLPipe-Hint">
                          {' '}
                          {trans.__('(try %1)', task.try_number)}
                        </span>
                      )}
                    </td>
                    <td>
                      <StatusBadge
                        state={task.state}
                        trans={trans}
                        progress={itemsProgress(task)}
                      />
                    </td>
                    <td>{formatDuration(elapsed(task))}</td>
                    <td>
                      <button
                        type="button"
                        className="jp-mod-styled jp-MLPipe-TaskTable-log"
                        data-action="log"
                        disabled={task.state === 'none' && !task.started}
                        onClick={() => props.onOpenLog(run, task)}
                      >
                        {trans.__('Log')}
                      </button>
                      {canRerun && !active && (
                        <button
                          type="button"
                          className="jp-mod-styled jp-MLPipe-TaskTable-log"
                          data-action="run-from"
                          onClick={() => props.onRunFrom(run, task.task_id)}
                          title={
                            run.kind === 'airflow'
                              ? trans.__(
                                  'Clear this task and its descendants: Airflow runs them again in this run'
                                )
                              : trans.__(
                                  'A new run of this node and its descendants; the nodes before reuse earlier results'
                                )
                          }
                        >
                          {trans.__('From here')}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </li>
  );
}
