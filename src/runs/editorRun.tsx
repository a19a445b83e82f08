/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * A run started from the pipeline editor: a bar above the canvas (state,
 * elapsed time, Cancel, the failure report naming the node), a status badge
 * on each node, and the live log of the node selected on the canvas.
 */

import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { MessageLoop } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { describeError } from '../api';
import type { INodeDecoration } from '../editor/decorations';
import { nodeLabel } from '../model/elyra';
import type { IPipelineEditor } from '../tokens';
import { RunsClient } from './client';
import type { RunsContext } from './context';
import { Decision, DecisionBox, sendDecision } from './decision';
import { LogView } from './logView';
import {
  awaitingApproval,
  elapsed,
  failedTasks,
  failureReport,
  formatDuration,
  isRunActive,
  isTaskActive,
  itemsProgress,
  stateDetails,
  STATUS_LABELS,
  statusKind,
  taskName,
  taskProgress,
  tasksByNode
} from './states';
import type { IRun, IRunTask } from './types';
import { LogFollower, RunWatcher } from './watch';

/** The run of one editor, and the log of one of its nodes. */
export class EditorRunController {
  constructor(
    readonly editor: IPipelineEditor,
    readonly ctx: RunsContext
  ) {
    this._onSelection = this._onSelection.bind(this);
    editor.editorModel.selectionChanged.connect(this._onSelection);
    editor.disposed.connect(() => this.dispose());
  }

  /** Emitted when the run, its log or the view changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The run being shown (null before the first one). */
  get run(): IRun | null {
    return this._watcher?.run ?? null;
  }

  /** The last error reading the run, in words. */
  get error(): string | null {
    return this._actionError ?? this._watcher?.error ?? null;
  }

  /** Whether the run shown may still change. */
  get active(): boolean {
    const run = this.run;
    return !!run && isRunActive(run.state);
  }

  /** The log being shown, if any. */
  get log(): LogFollower | null {
    return this._log;
  }

  /** The task whose log is shown. */
  get logTask(): IRunTask | null {
    const run = this.run;
    if (!run || !this._log) {
      return null;
    }
    return run.tasks.find(t => t.task_id === this._log!.taskId) ?? null;
  }

  /** Show a run that was just started. */
  show(run: IRun): void {
    this._stopFollowing();
    this._failedLogShown = false;
    this._actionError = null;
    const watcher = new RunWatcher({
      ref: run,
      initial: run,
      interval: () => this.ctx.settings.pollInterval
    });
    this._watcher = watcher;
    watcher.changed.connect(this._onRunChanged, this);
    this._ensureBar();
    watcher.start();
    this._onRunChanged();
  }

  /** Cancel the run shown. */
  async cancel(): Promise<void> {
    const run = this.run;
    if (!run || !this._watcher) {
      return;
    }
    this._actionError = null;
    try {
      const after = await RunsClient.cancel(run);
      this._watcher.update(after);
      this.ctx.announce(after);
    } catch (error) {
      this._actionError = describeError(error).message;
    }
    this._watcher.refresh();
    this._changed.emit();
  }

  /**
   * Approve or reject a task that awaits approval; throws what the server
   * said (the decision box shows it).
   */
  async decide(
    task: IRunTask,
    decision: Decision,
    comment: string
  ): Promise<void> {
    const run = this.run;
    const watcher = this._watcher;
    if (!run || !watcher) {
      return;
    }
    const after = await sendDecision(run, task, decision, comment);
    if (this._watcher === watcher) {
      watcher.update(after);
      watcher.refresh();
    }
    this.ctx.announce(after);
    this._changed.emit();
  }

  /** Show the log of a task of the run. */
  showLog(taskId: string): void {
    const run = this.run;
    const task = run?.tasks.find(t => t.task_id === taskId);
    if (!run || !task) {
      return;
    }
    if (
      this._log &&
      this._log.taskId === taskId &&
      this._log.tryNumber === (task.try_number || undefined)
    ) {
      this._log.refresh();
      return;
    }
    this._log?.dispose();
    const follower = new LogFollower({
      ref: run,
      taskId,
      tryNumber: task.try_number || undefined,
      interval: () => this.ctx.settings.logPollInterval,
      taskState: () =>
        this.run?.tasks.find(t => t.task_id === taskId)?.state ?? 'none'
    });
    follower.changed.connect(() => this._changed.emit());
    this._log = follower;
    follower.start();
    this._changed.emit();
  }

  /** Hide the log. */
  hideLog(): void {
    this._log?.dispose();
    this._log = null;
    this._changed.emit();
  }

  /** Remove the bar and the badges (the run goes on if it was running). */
  close(): void {
    this._stopFollowing();
    this.editor.decorations.clear();
    this._bar?.dispose();
    this._bar = null;
    this._changed.emit();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.editor.editorModel.selectionChanged.disconnect(this._onSelection);
    this._stopFollowing();
    this._bar?.dispose();
    Signal.clearData(this);
  }

  private _stopFollowing(): void {
    this._watcher?.dispose();
    this._watcher = null;
    this._log?.dispose();
    this._log = null;
  }

  private _ensureBar(): void {
    if (this._bar && !this._bar.isDisposed) {
      return;
    }
    this._bar = new RunBar(this);
    this.editor.contentHeader.addWidget(this._bar);
  }

  private _onRunChanged(): void {
    const run = this.run;
    if (!run) {
      return;
    }
    this._decorate(run);
    // a node is selected while the run goes on: follow its log once it has one
    if (!this._log) {
      const selected = this.editor.editorModel.selectedNode;
      if (selected) {
        this._onSelection();
      }
    }
    if (
      run.state === 'failed' &&
      !this._failedLogShown &&
      this.ctx.settings.showFailedLog
    ) {
      this._failedLogShown = true;
      const failed = failedTasks(run)[0];
      if (failed) {
        this.showLog(failed.task_id);
      }
    }
    this._changed.emit();
  }

  /** One badge per node that has a task in the run. */
  private _decorate(run: IRun): void {
    const model = this.editor.editorModel;
    const trans = this.ctx.trans;
    const byNode = tasksByNode(
      run.tasks,
      model.nodes.map(n => ({ id: n.id, label: nodeLabel(n) }))
    );
    const items = new Map<string, INodeDecoration>();
    for (const [nodeId, task] of byNode) {
      const kind = statusKind(task.state);
      const progress = itemsProgress(task);
      // a fan-out shows how many of its items are done: "running 3/5"
      const label = progress
        ? `${trans.__(STATUS_LABELS[kind])} ${progress}`
        : trans.__(STATUS_LABELS[kind]);
      const time = elapsed(task);
      const parts = [label];
      for (const [text, ...args] of stateDetails(task)) {
        parts.push(trans.__(text, ...(args as any[])));
      }
      if (time !== null && !isTaskActive(task.state)) {
        parts.push(formatDuration(time));
      }
      if (task.try_number > 1) {
        parts.push(trans.__('try %1', task.try_number));
      }
      if (task.message) {
        parts.push(task.message);
      }
      items.set(nodeId, {
        status: kind,
        label,
        title: parts.join(' · ')
      });
    }
    this.editor.decorations.set(items);
  }

  /** A node was clicked: show its log when it has a task in the run. */
  private _onSelection(): void {
    const run = this.run;
    const node = this.editor.editorModel.selectedNode;
    if (!run || !node || !this._bar) {
      return;
    }
    const task = tasksByNode(run.tasks, [
      { id: node.id, label: nodeLabel(node) }
    ]).get(node.id);
    if (task && task.state !== 'none') {
      this.showLog(task.task_id);
    }
  }

  private _watcher: RunWatcher | null = null;
  private _log: LogFollower | null = null;
  private _bar: RunBar | null = null;
  private _actionError: string | null = null;
  private _failedLogShown = false;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * The bar above the canvas. It lives in the document's content header, whose
 * layout only knows CSS sizes, so after each render it gives its height as
 * its minimum height and asks the header to lay out again.
 */
class RunBar extends ReactWidget {
  constructor(private _controller: EditorRunController) {
    super();
    this.addClass('jp-MLPipe-RunBar');
  }

  render(): JSX.Element {
    return (
      <RunBarView
        controller={this._controller}
        trans={this._controller.ctx.trans}
        onLayout={inner => this._fit(inner)}
      />
    );
  }

  dispose(): void {
    const editor = this._controller.editor;
    super.dispose();
    // the canvas got its height back: show the whole graph again
    requestAnimationFrame(() => editor.isDisposed || editor.fitView());
  }

  private _fit(inner: HTMLElement | null): void {
    if (this.isDisposed) {
      return;
    }
    const height = inner ? Math.ceil(inner.getBoundingClientRect().height) : 0;
    if (height === this._height) {
      return;
    }
    const jump = Math.abs(height - this._height) >= 40;
    this._height = height;
    this.node.style.minHeight = `${height}px`;
    if (this.parent) {
      MessageLoop.postMessage(this.parent, Widget.Msg.FitRequest);
    }
    if (jump) {
      // the canvas lost or gained a lot of height (bar shown, log opened):
      // fit the graph into what is left once the layout has settled
      const editor = this._controller.editor;
      requestAnimationFrame(() =>
        requestAnimationFrame(() => editor.isDisposed || editor.fitView())
      );
    }
  }

  private _height = 0;
}

/** Re-render on each change of the controller, and every second while running. */
function useControllerTick(controller: EditorRunController): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTick(t => t + 1);
    controller.changed.connect(bump);
    return () => {
      controller.changed.disconnect(bump);
    };
  }, [controller]);
  const active = controller.active;
  React.useEffect(() => {
    if (!active) {
      return;
    }
    const timer = setInterval(() => setTick(t => t + 1), 1000);
    return () => clearInterval(timer);
  }, [active]);
}

function RunBarView(props: {
  controller: EditorRunController;
  trans: TranslationBundle;
  /** Called after each render with the bar's element, to size its host. */
  onLayout: (inner: HTMLElement | null) => void;
}): JSX.Element | null {
  const { controller, trans, onLayout } = props;
  useControllerTick(controller);
  const inner = React.useRef<HTMLDivElement>(null);
  // collapsed: the first row only, so the canvas keeps its height
  const [collapsed, setCollapsed] = React.useState(false);
  React.useLayoutEffect(() => onLayout(inner.current));
  const run = controller.run;
  React.useEffect(() => {
    // the log is resizable by its corner: the host follows the new height
    const node = inner.current;
    if (!node || typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(() => onLayout(node));
    observer.observe(node);
    return () => observer.disconnect();
  }, [!!run]);
  if (!run) {
    return null;
  }
  const kind = statusKind(run.state);
  const progress = taskProgress(run.tasks);
  const report = failureReport(run);
  const log = controller.log;
  const logTask = controller.logTask;
  return (
    <div
      ref={inner}
      className="jp-MLPipe-RunBar-inner"
      data-status={kind}
      data-run-id={run.id}
    >
      <div className="jp-MLPipe-RunBar-row">
        <button
          type="button"
          className="jp-MLPipe-RunBar-toggle"
          aria-expanded={!collapsed}
          aria-label={
            collapsed
              ? trans.__('Expand the run bar')
              : trans.__('Collapse the run bar')
          }
          title={
            collapsed
              ? trans.__('Show the run details and log')
              : trans.__('Hide the run details and log')
          }
          onClick={() => setCollapsed(!collapsed)}
        >
          {collapsed ? '▸' : '▾'}
        </button>
        <span className="jp-MLPipe-RunState" data-status={kind}>
          {trans.__(STATUS_LABELS[kind])}
        </span>
        <span className="jp-MLPipe-RunBar-title">
          {trans.__('%1 on %2', run.dag_id, run.runtime_config)}
        </span>
        <span
          className="jp-MLPipe-RunBar-elapsed"
          title={trans.__('Elapsed time')}
        >
          {formatDuration(elapsed(run))}
        </span>
        {progress.total > 0 && (
          <span className="jp-MLPipe-RunBar-progress">
            {trans.__('%1 of %2 nodes done', progress.done, progress.total)}
          </span>
        )}
        <span className="jp-MLPipe-RunBar-spacer" />
        {controller.active && (
          <button
            type="button"
            className="jp-mod-styled jp-mod-warn jp-MLPipe-RunBar-cancel"
            onClick={() => void controller.cancel()}
          >
            {trans.__('Cancel run')}
          </button>
        )}
        {typeof run.links?.airflow === 'string' && (
          <a
            className="jp-MLPipe-RunBar-link"
            href={run.links.airflow}
            target="_blank"
            rel="noopener noreferrer"
          >
            {trans.__('Open in Airflow')}
          </a>
        )}
        <button
          type="button"
          className="jp-mod-styled jp-MLPipe-RunBar-runs"
          onClick={() => controller.ctx.openRun(run)}
        >
          {trans.__('Show in Runs')}
        </button>
        {!controller.active && (
          <button
            type="button"
            className="jp-MLPipe-RunBar-close"
            aria-label={trans.__('Close the run bar')}
            title={trans.__('Close the run bar and remove the node badges')}
            onClick={() => controller.close()}
          >
            ×
          </button>
        )}
      </div>
      {awaitingApproval(run).map(task => (
        <DecisionBox
          key={task.task_id}
          task={task}
          trans={trans}
          compact
          decide={(decision, comment) =>
            controller.decide(task, decision, comment)
          }
        />
      ))}
      {!collapsed && controller.error && (
        <div className="jp-MLPipe-RunBar-error" role="alert">
          {controller.error}
        </div>
      )}
      {!collapsed && report && (
        <div className="jp-MLPipe-RunBar-failure" role="alert">
          <strong>{trans.__('The run failed.')}</strong> {report}
        </div>
      )}
      {!collapsed && run.state === 'cancelled' && (
        <div className="jp-MLPipe-RunBar-note">
          {trans.__('The run was cancelled.')}
        </div>
      )}
      {!collapsed && !log && run.tasks.length > 0 && (
        <div className="jp-MLPipe-RunBar-note">
          {trans.__('Click a node to see its log.')}
        </div>
      )}
      {!collapsed && log && (
        <div className="jp-MLPipe-RunBar-log">
          <div className="jp-MLPipe-RunBar-logHeader">
            <span>
              {trans.__('Log of %1', logTask ? taskName(logTask) : log.taskId)}
              {logTask && logTask.try_number > 1
                ? ` · ${trans.__('try %1', logTask.try_number)}`
                : ''}
            </span>
            <span className="jp-MLPipe-RunBar-spacer" />
            {logTask && (
              <button
                type="button"
                className="jp-mod-styled"
                onClick={() => controller.ctx.openLog(run, logTask)}
              >
                {trans.__('Open in a tab')}
              </button>
            )}
            <button
              type="button"
              className="jp-MLPipe-RunBar-close"
              aria-label={trans.__('Hide the log')}
              onClick={() => controller.hideLog()}
            >
              ×
            </button>
          </div>
          <LogView follower={log} trans={trans} compact />
        </div>
      )}
    </div>
  );
}
