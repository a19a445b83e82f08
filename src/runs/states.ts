/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * What run and task states mean for the UI: which ones are still moving (so
 * polling goes on), how they are shown, which node a task is, and the failure
 * report in words. UI-free, so it is tested on its own.
 */

import type { IRun, IRunGate, IRunTask } from './types';

/** Run states after which nothing changes any more. */
const FINAL_RUN_STATES = new Set(['success', 'failed', 'cancelled']);

/** Task states after which the task does not change (unless the run is retried). */
const FINAL_TASK_STATES = new Set([
  'success',
  'cached',
  'failed',
  'upstream_failed',
  'skipped',
  'cancelled',
  'rejected'
]);

/**
 * Whether a run may still change. `unknown` counts as settled: it means the
 * server could not tell (e.g. Airflow lost the run) and polling would never end.
 */
export function isRunActive(state: string): boolean {
  return state === 'queued' || state === 'running';
}

/** Whether a run reached a final state. */
export function isRunFinal(state: string): boolean {
  return FINAL_RUN_STATES.has(state);
}

/** Whether a task may still change. */
export function isTaskActive(state: string): boolean {
  return !FINAL_TASK_STATES.has(state);
}

/**
 * How a state is shown: one of a few badge kinds, each with its own colour
 * (see `style/runs.css`) — Airflow's ten task states are too many to tell
 * apart at a glance.
 */
export type StatusKind =
  | 'pending'
  | 'queued'
  | 'running'
  | 'retrying'
  | 'success'
  | 'cached'
  | 'failed'
  | 'upstream_failed'
  | 'skipped'
  | 'cancelled'
  | 'awaiting_approval'
  | 'rejected'
  | 'unknown';

/** The badge kind of a task or run state. */
export function statusKind(state: string | null | undefined): StatusKind {
  switch (state) {
    case 'none':
    case null:
    case undefined:
    case '':
      return 'pending';
    case 'scheduled':
    case 'queued':
    case 'deferred':
      return 'queued';
    case 'running':
    case 'restarting':
      return 'running';
    case 'up_for_retry':
    case 'up_for_reschedule':
      return 'retrying';
    case 'success':
      return 'success';
    case 'cached':
      return 'cached';
    case 'failed':
      return 'failed';
    case 'upstream_failed':
      return 'upstream_failed';
    case 'skipped':
    case 'removed':
      return 'skipped';
    case 'cancelled':
      return 'cancelled';
    // a person has to act: its own colour, never mistaken for "running"
    case 'awaiting_approval':
      return 'awaiting_approval';
    case 'rejected':
      return 'rejected';
    default:
      return 'unknown';
  }
}

/** Untranslated English label of a badge kind (translated by the caller). */
export const STATUS_LABELS: { [kind in StatusKind]: string } = {
  pending: 'waiting',
  queued: 'queued',
  running: 'running',
  retrying: 'retrying',
  success: 'succeeded',
  cached: 'cached',
  failed: 'failed',
  upstream_failed: 'upstream failed',
  skipped: 'skipped',
  cancelled: 'cancelled',
  awaiting_approval: 'awaiting approval',
  rejected: 'rejected',
  unknown: 'unknown'
};

/** Whether a task waits for a person's decision (an approval gate). */
export function isAwaitingApproval(task: IRunTask): boolean {
  return task.state === 'awaiting_approval';
}

/** The tasks of a run that wait for a decision. */
export function awaitingApproval(run: IRun): IRunTask[] {
  return (run.tasks ?? []).filter(isAwaitingApproval);
}

/**
 * The gates of a run that wait for a decision: the run's `awaiting` (the runs
 * list has it without tasks), else read from its tasks (a server before it).
 */
export function waitingGates(run: IRun): IRunGate[] {
  if (Array.isArray(run.awaiting)) {
    return run.awaiting;
  }
  return awaitingApproval(run).map(task => ({
    task_id: task.task_id,
    label: taskName(task),
    message: task.approval?.message || task.message || null
  }));
}

/** The collapsed row's words for waiting gates: their labels, or null. */
export function gatesText(gates: readonly IRunGate[]): string | null {
  return gates.length ? gates.map(g => g.label || g.task_id).join(', ') : null;
}

/**
 * A fan-out task's progress, e.g. `3/5` (items finished of all items), or
 * null for a task that is no fan-out.
 */
export function itemsProgress(task: IRunTask): string | null {
  const items = task.items;
  if (!items || typeof items.total !== 'number') {
    return null;
  }
  const done = (items.success ?? 0) + (items.failed ?? 0);
  return `${done}/${items.total}`;
}

/**
 * The untranslated sentences that explain a task's state beyond its badge
 * word (each passed through the caller's translation): why it was skipped, its
 * fan-out items, that it waits for someone. Each entry is a message and its
 * arguments, for `trans.__`.
 */
export function stateDetails(task: IRunTask): [string, ...unknown[]][] {
  const out: [string, ...unknown[]][] = [];
  if (task.state === 'skipped' && task.reason === 'branch') {
    out.push(['skipped: the branch before it did not choose it']);
  } else if (task.state === 'skipped' && task.reason) {
    out.push(['skipped: %1', task.reason]);
  }
  if (task.state === 'awaiting_approval') {
    out.push(['waits for a decision: approve or reject it']);
  }
  if (task.state === 'rejected') {
    out.push(['rejected: the nodes after it were skipped']);
  }
  const approval = task.approval;
  if (approval?.decision) {
    if (approval.timed_out) {
      out.push(['nobody decided in time']);
    }
    if (approval.by) {
      out.push([
        approval.decision === 'approve' ? 'approved by %1' : 'rejected by %1',
        approval.by
      ]);
    }
    if (approval.comment) {
      out.push(['comment: %1', approval.comment]);
    }
  }
  const items = task.items;
  if (items && typeof items.total === 'number') {
    out.push([
      '%1 of %2 items done (%3 succeeded, %4 failed, %5 running)',
      (items.success ?? 0) + (items.failed ?? 0),
      items.total,
      items.success ?? 0,
      items.failed ?? 0,
      items.running ?? 0
    ]);
  }
  return out;
}

/**
 * The task of each canvas node: by the node id the server reports, else by
 * label (a run started from an older file may have other ids).
 */
export function tasksByNode(
  tasks: readonly IRunTask[],
  nodes: readonly { id: string; label: string }[]
): Map<string, IRunTask> {
  const result = new Map<string, IRunTask>();
  const ids = new Set(nodes.map(n => n.id));
  const unmatched: IRunTask[] = [];
  for (const task of tasks) {
    if (task.node_id && ids.has(task.node_id)) {
      result.set(task.node_id, task);
    } else {
      unmatched.push(task);
    }
  }
  for (const task of unmatched) {
    const node = nodes.find(
      n =>
        !result.has(n.id) &&
        (n.label === task.label || n.label === task.task_id)
    );
    if (node) {
      result.set(node.id, task);
    }
  }
  return result;
}

/** The name of a task for people: its node's label, else its task id. */
export function taskName(task: IRunTask): string {
  return task.label || task.task_id;
}

/** The tasks that failed themselves (not those skipped because of them). */
export function failedTasks(run: IRun): IRunTask[] {
  return (run.tasks ?? []).filter(t => t.state === 'failed');
}

/**
 * Why a run failed, in words that name the node(s): the server's own summary
 * when it sent one, else one built from the failed tasks.
 */
export function failureReport(run: IRun): string | null {
  if (run.state !== 'failed') {
    return null;
  }
  if (run.message) {
    return run.message;
  }
  const failed = failedTasks(run);
  if (!failed.length) {
    return 'The run failed.';
  }
  return failed
    .map(
      t => `Node '${taskName(t)}' failed` + (t.message ? `: ${t.message}` : '.')
    )
    .join('\n');
}

/** Milliseconds since the epoch of an ISO date, or null. */
export function parseTime(value: string | null | undefined): number | null {
  if (!value) {
    return null;
  }
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : time;
}

/**
 * How long a run or task took (or has been going for, when it has not ended),
 * in milliseconds; null when it has not started.
 */
export function elapsed(
  item: { started: string | null; ended: string | null },
  now: number = Date.now()
): number | null {
  const start = parseTime(item.started);
  if (start === null) {
    return null;
  }
  const end = parseTime(item.ended) ?? now;
  return Math.max(0, end - start);
}

/** A duration for people: `45 s`, `3 min 07 s`, `2 h 05 min`. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) {
    return '–';
  }
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) {
    return `${seconds} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  }
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** Counts of the tasks by badge kind, e.g. for "3 of 5 done". */
export function taskProgress(tasks: readonly IRunTask[]): {
  total: number;
  done: number;
  running: number;
  failed: number;
} {
  let done = 0;
  let running = 0;
  let failed = 0;
  for (const task of tasks) {
    if (!isTaskActive(task.state)) {
      done++;
    }
    if (task.state === 'running') {
      running++;
    }
    if (task.state === 'failed') {
      failed++;
    }
  }
  return { total: tasks.length, done, running, failed };
}

/** Runs newest first (by start time, then id), those not started yet on top. */
export function sortRuns(runs: readonly IRun[]): IRun[] {
  return [...runs].sort((a, b) => {
    const ta = parseTime(a.started) ?? Number.POSITIVE_INFINITY;
    const tb = parseTime(b.started) ?? Number.POSITIVE_INFINITY;
    if (ta !== tb) {
      return tb - ta;
    }
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  });
}

/** A key that names a run across configs and DAGs. */
export function runKey(run: {
  runtime_config: string;
  dag_id: string;
  id: string;
}): string {
  return `${run.runtime_config}/${run.dag_id}/${run.id}`;
}

/** A start time for people, in the browser's locale (the date only when not today). */
export function startedText(value: string | null, now = new Date()): string {
  if (!value) {
    return '–';
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return value;
  }
  const today = date.toDateString() === now.toDateString();
  return today
    ? date.toLocaleTimeString(undefined, {
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit'
      })
    : date.toLocaleString(undefined, {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit'
      });
}
