/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The run payloads of the `/mlpipe-lab/runs` REST API (see
 * `/work/briefs/runs-contract.md` and `mlpipe_lab/openapi.yaml`): one shape
 * for a local run and an Airflow DAG run.
 */

/** State of a whole run. */
export type RunState =
  'queued' | 'running' | 'success' | 'failed' | 'cancelled' | 'unknown';

/** State of one task (Airflow's task instance states, plus `cancelled`). */
export type TaskState =
  | 'none'
  | 'scheduled'
  | 'queued'
  | 'running'
  | 'success'
  | 'cached'
  | 'failed'
  | 'upstream_failed'
  | 'skipped'
  | 'up_for_retry'
  | 'cancelled'
  | 'awaiting_approval'
  | 'rejected';

/** Items of a fan-out task (one instance per item), by state. */
export interface ITaskItems {
  total: number;
  success: number;
  failed: number;
  running: number;
}

/** One task of a run: a pipeline node. */
export interface IRunTask {
  task_id: string;
  node_id: string | null;
  label: string | null;
  state: TaskState | string;
  try_number: number;
  started: string | null;
  ended: string | null;
  message: string | null;
  /** Why a skipped task was skipped, e.g. `branch` (a branch did not choose it). */
  reason?: string | null;
  /** A fan-out task: its items by state. */
  items?: ITaskItems | null;
  /** An approval gate: what it asks and what was decided. */
  approval?: ITaskApproval | null;
}

/** The facts of an approval gate's task (runs API). */
export interface ITaskApproval {
  /** The gate's message, parameters filled in. */
  message: string;
  decision: 'approve' | 'reject' | null;
  comment?: string | null;
  by?: string | null;
  timed_out?: boolean | null;
  /** When the timeout outcome applies (ISO time), if the gate has a timeout. */
  timeout_at?: string | null;
  on_timeout?: 'approve' | 'reject';
}

/** Body of `POST runs/<config>/<dag>/<run>/tasks/<task>/decision`. */
export interface IDecisionRequest {
  decision: 'approve' | 'reject';
  comment?: string;
}

/** A run, local or on Airflow. */
export interface IRun {
  id: string;
  kind: 'local' | 'airflow' | string;
  runtime_config: string;
  dag_id: string;
  pipeline: string | null;
  state: RunState | string;
  started: string | null;
  ended: string | null;
  params: { [name: string]: unknown };
  message: string | null;
  links: {
    airflow?: string;
    artifacts?: string;
    commit?: string;
    [key: string]: unknown;
  };
  tasks: IRunTask[];
  /**
   * The approval gates that wait for a decision, also in the runs list
   * (which carries no tasks); absent from servers before it, and empty for
   * Airflow runs listed where Airflow cannot say it cheaply (openapi.yaml).
   */
  awaiting?: IRunGate[];
}

/** An approval gate that waits for a decision (`IRun.awaiting`). */
export interface IRunGate {
  task_id: string;
  /** The gate node's label (its task id when it has none). */
  label: string;
  /** What it asks, parameters filled in. */
  message: string | null;
}

/** Body of `POST runs`. */
export interface IStartRunRequest {
  /** The pipeline (path from the server root); or `dag_id` for Airflow. */
  path?: string;
  /** Airflow: trigger this DAG when there is no pipeline path. */
  dag_id?: string;
  runtime_config: string;
  params?: { [name: string]: unknown };
  /** The pipeline's unsaved text, run instead of the file on disk. */
  content?: string;
  /** Airflow: publish first, then wait for the import and trigger. */
  publish?: boolean;
  /** Airflow with `publish`: seconds to wait for the import. */
  import_timeout?: number;
  /** Local: false runs every node (default: unchanged nodes reuse earlier results). */
  cache?: boolean;
  /** Local: a partial run of these nodes (task ids, node ids or labels). */
  only?: string[];
  /** Local: a partial run of these nodes and their descendants. */
  from?: string[];
  /** Local: a partial run of these nodes and their ancestors. */
  to?: string[];
}

/** Body of `POST runs/<config>/<dag>/<run>/clear`: which part of a run to run again. */
export interface IClearRunRequest {
  only?: string[];
  from?: string[];
  to?: string[];
  cache?: boolean;
}

/** Reply of `GET runs/.../logs/<task>`. */
export interface ILogChunk {
  text: string;
  offset: number;
  complete: boolean;
}

/** Reply of `POST publish-status`. */
export interface IPublishStatus {
  state: 'waiting' | 'imported' | 'import_error' | string;
  commit?: string | null;
  /** A summary in words, when the server has one. */
  message?: string;
  errors: { filename?: string; message: string }[];
}

/** Filters of `GET runs`. */
export interface IRunQuery {
  runtime_config?: string;
  dag_id?: string;
  path?: string;
  limit?: number;
}

/** Where a run lives: what the per-run routes need. */
export interface IRunRef {
  runtime_config: string;
  dag_id: string;
  id: string;
}
