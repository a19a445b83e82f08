/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * A task's log as it grows: in the editor's run bar (compact) and as a
 * read-only document in the main area.
 */

import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { RunsContext } from './context';
import { isRunActive, taskName } from './states';
import type { IRun, IRunTask } from './types';
import { LogFollower, RunWatcher } from './watch';

/** The text of a followed log; stays scrolled to the end unless the user scrolled up. */
export function LogView(props: {
  follower: LogFollower;
  trans: TranslationBundle;
  compact?: boolean;
}): JSX.Element {
  const { follower, trans } = props;
  const [, setTick] = React.useState(0);
  const pre = React.useRef<HTMLPreElement>(null);
  const stick = React.useRef(true);
  React.useEffect(() => {
    const bump = () => setTick(t => t + 1);
    follower.changed.connect(bump);
    return () => {
      follower.changed.disconnect(bump);
    };
  }, [follower]);
  const text = follower.tail.text;
  React.useLayoutEffect(() => {
    const node = pre.current;
    if (node && stick.current) {
      node.scrollTop = node.scrollHeight;
    }
  }, [text]);
  const status = follower.following
    ? trans.__('following…')
    : follower.tail.complete
      ? trans.__('complete')
      : trans.__('not updating');
  return (
    <div
      className={`jp-MLPipe-Log${props.compact ? ' jp-mod-compact' : ''}`}
      data-task-id={follower.taskId}
      data-following={follower.following ? 'true' : 'false'}
    >
      <div className="jp-MLPipe-Log-status">
        <span>{status}</span>
        {follower.tail.truncated && (
          <span>
            {' · '}
            {trans.__('only the end of the log is shown')}
          </span>
        )}
        {follower.error && (
          <span className="jp-MLPipe-Log-error" role="alert">
            {' · '}
            {follower.error}
          </span>
        )}
      </div>
      <pre
        ref={pre}
        className="jp-MLPipe-Log-text"
        tabIndex={0}
        aria-label={trans.__('Log of %1', follower.taskId)}
        onScroll={event => {
          const node = event.currentTarget;
          stick.current =
            node.scrollHeight - node.scrollTop - node.clientHeight < 24;
        }}
      >
        {text ||
          (follower.following
            ? trans.__('(no output yet)')
            : trans.__('(empty log)'))}
      </pre>
    </div>
  );
}

/** The body of a main-area log document; owns its follower (and run watcher). */
class LogDocument extends ReactWidget {
  constructor(
    readonly follower: LogFollower,
    private _trans: TranslationBundle,
    private _watcher: RunWatcher | null
  ) {
    super();
    this.addClass('jp-MLPipe-LogDocument');
  }

  dispose(): void {
    this.follower.dispose();
    this._watcher?.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return <LogView follower={this.follower} trans={this._trans} />;
  }
}

/** The widget id of a task log document (one per run, task and try). */
export function logWidgetId(run: IRun, task: IRunTask): string {
  return [
    'mlpipe-log',
    run.runtime_config,
    run.dag_id,
    run.id,
    task.task_id,
    task.try_number
  ]
    .map(part => String(part).replace(/[^A-Za-z0-9_-]/g, '_'))
    .join('-');
}

/** A read-only main-area view of a task's log, following it while it grows. */
export function createLogViewer(
  ctx: RunsContext,
  run: IRun,
  task: IRunTask
): MainAreaWidget<LogDocument> {
  const { trans } = ctx;
  // while the run goes on, follow its task states to know when the log ends
  const watcher = isRunActive(run.state)
    ? new RunWatcher({
        ref: run,
        initial: run,
        interval: () => ctx.settings.pollInterval
      })
    : null;
  const follower = new LogFollower({
    ref: run,
    taskId: task.task_id,
    tryNumber: task.try_number || undefined,
    interval: () => ctx.settings.logPollInterval,
    taskState: () =>
      (watcher?.run ?? run).tasks.find(t => t.task_id === task.task_id)
        ?.state ?? task.state
  });
  watcher?.start();
  const content = new LogDocument(follower, trans, watcher);
  const widget = new MainAreaWidget({ content });
  widget.id = logWidgetId(run, task);
  widget.addClass('jp-MLPipe-LogViewer');
  widget.title.label = trans.__('Log: %1', taskName(task));
  widget.title.caption = trans.__(
    'Log of %1 (try %2) in run %3 of %4 (%5)',
    taskName(task),
    task.try_number,
    run.id,
    run.dag_id,
    run.runtime_config
  );
  widget.title.closable = true;
  widget.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: trans.__('Read the log again now'),
      onClick: () => follower.refresh()
    })
  );
  follower.start();
  return widget;
}
