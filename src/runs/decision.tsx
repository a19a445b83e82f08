/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Approve / Reject of a task that awaits approval (an approval gate), shown
 * in the editor's run bar and in the Runs panel: an optional comment, two
 * buttons, and what went wrong in words.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { describeError } from '../api';
import { MLPipeRequestError } from '../request';
import { RunsClient } from './client';
import { taskName } from './states';
import type { IDecisionRequest, IRun, IRunRef, IRunTask } from './types';

/** A decision: approve or reject. */
export type Decision = IDecisionRequest['decision'];

/**
 * Why a decision did not go through, in words naming the node: the server's
 * own sentence when it sent one, else what the HTTP status means here.
 */
export function decisionFailure(
  error: unknown,
  decision: Decision,
  name: string,
  trans: TranslationBundle
): string {
  const what =
    decision === 'approve'
      ? trans.__('Could not approve "%1"', name)
      : trans.__('Could not reject "%1"', name);
  let reason = describeError(error).message;
  if (error instanceof MLPipeRequestError) {
    // requestAPI's own fallback when the server sent no sentence
    const generic =
      !reason ||
      reason === error.response.statusText ||
      reason.includes(` failed (${error.status}`);
    if (error.status === 404 && generic) {
      reason = trans.__(
        'the server does not know this run or task (it may have been removed)'
      );
    } else if (error.status === 409 && generic) {
      reason = trans.__(
        'the task no longer waits for a decision (someone decided already, or the run ended)'
      );
    } else if (error.status === 403) {
      reason = trans.__('you may not decide on this task: %1', reason);
    }
  }
  return `${what}: ${reason}`;
}

/**
 * Send a decision; the run after it (read again when the server did not send
 * it back). Throws what the server said.
 */
export async function sendDecision(
  ref: IRunRef,
  task: IRunTask,
  decision: Decision,
  comment: string
): Promise<IRun> {
  const after = await RunsClient.decide(ref, task.task_id, decision, comment);
  return after ?? (await RunsClient.get(ref));
}

/** A time for people, in the browser's locale. */
function timeText(value: string): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

/** The Approve / Reject box of one task. */
export function DecisionBox(props: {
  task: IRunTask;
  trans: TranslationBundle;
  /** Send the decision; rejects with the server's error. */
  decide: (decision: Decision, comment: string) => Promise<void>;
  compact?: boolean;
}): JSX.Element {
  const { task, trans } = props;
  const [comment, setComment] = React.useState('');
  const [busy, setBusy] = React.useState<Decision | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const name = taskName(task);
  const send = async (decision: Decision) => {
    setBusy(decision);
    setError(null);
    try {
      await props.decide(decision, comment);
      setComment('');
    } catch (reason) {
      setError(decisionFailure(reason, decision, name, trans));
    } finally {
      setBusy(null);
    }
  };
  return (
    <div
      className={`jp-MLPipe-Decision${props.compact ? ' jp-mod-compact' : ''}`}
      data-task-id={task.task_id}
      data-status="awaiting_approval"
      role="group"
      aria-label={trans.__('Decision on %1', name)}
    >
      <div className="jp-MLPipe-Decision-text">
        <strong>{trans.__('"%1" awaits approval.', name)}</strong>
        {(task.approval?.message || task.message) && (
          <span className="jp-MLPipe-Decision-message">
            {' '}
            {task.approval?.message || task.message}
          </span>
        )}
        {task.approval?.timeout_at && (
          <span className="jp-MLPipe-Decision-timeout">
            {' '}
            {task.approval.on_timeout === 'approve'
              ? trans.__(
                  'Approved by itself at %1 unless someone decides.',
                  timeText(task.approval.timeout_at)
                )
              : trans.__(
                  'Rejected by itself at %1 unless someone decides.',
                  timeText(task.approval.timeout_at)
                )}
          </span>
        )}
      </div>
      <div className="jp-MLPipe-Decision-row">
        <input
          className="jp-mod-styled jp-MLPipe-Decision-comment"
          type="text"
          value={comment}
          placeholder={trans.__('Comment (optional)')}
          aria-label={trans.__('Comment on the decision (optional)')}
          disabled={busy !== null}
          onChange={event => setComment(event.target.value)}
        />
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept"
          data-action="approve"
          disabled={busy !== null}
          onClick={() => void send('approve')}
          title={trans.__('The nodes after "%1" run', name)}
        >
          {busy === 'approve' ? trans.__('Approving…') : trans.__('Approve')}
        </button>
        <button
          type="button"
          className="jp-mod-styled jp-mod-warn"
          data-action="reject"
          disabled={busy !== null}
          onClick={() => void send('reject')}
          title={trans.__(
            '"%1" ends rejected; the nodes after it are skipped',
            name
          )}
        >
          {busy === 'reject' ? trans.__('Rejecting…') : trans.__('Reject')}
        </button>
      </div>
      {error && (
        <div className="jp-MLPipe-Decision-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
