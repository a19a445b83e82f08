/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Typed calls to the runs routes of the mlpipe-lab REST API.
 */

import { requestAPI } from '../request';
import type {
  IClearRunRequest,
  IDecisionRequest,
  ILogChunk,
  IPublishStatus,
  IRun,
  IRunQuery,
  IRunRef,
  IStartRunRequest
} from './types';

function post(body: unknown): RequestInit {
  return { method: 'POST', body: JSON.stringify(body) };
}

/** `runs/<config>/<dag>/<run>` with each part escaped. */
export function runPath(ref: IRunRef): string {
  return ['runs', ref.runtime_config, ref.dag_id, ref.id]
    .map(encodeURIComponent)
    .join('/');
}

/** The query string of `GET runs` (empty filters left out). */
export function runsQuery(query: IRunQuery): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') {
      parts.push(`${key}=${encodeURIComponent(String(value))}`);
    }
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** A run as the server sent it, with the lists the UI walks never missing. */
export function normaliseRun(run: IRun): IRun {
  return {
    ...run,
    params: run.params ?? {},
    links: run.links ?? {},
    tasks: Array.isArray(run.tasks) ? run.tasks : []
  };
}

/** The runs routes. */
export namespace RunsClient {
  /** Start a run (local) or trigger one (Airflow). */
  export async function start(body: IStartRunRequest): Promise<IRun> {
    return normaliseRun(await requestAPI<IRun>('runs', post(body)));
  }

  /** Runs, newest first. */
  export async function list(query: IRunQuery = {}): Promise<IRun[]> {
    const reply = await requestAPI<{ runs: IRun[] }>(`runs${runsQuery(query)}`);
    return Array.isArray(reply?.runs) ? reply.runs.map(normaliseRun) : [];
  }

  /** One run with its tasks. */
  export async function get(ref: IRunRef): Promise<IRun> {
    return normaliseRun(await requestAPI<IRun>(runPath(ref)));
  }

  /** Part of a task's log, from `offset` on. */
  export function log(
    ref: IRunRef,
    taskId: string,
    options: { tryNumber?: number; offset?: number } = {}
  ): Promise<ILogChunk> {
    const query: string[] = [];
    if (options.tryNumber) {
      query.push(`try_number=${options.tryNumber}`);
    }
    query.push(`offset=${options.offset ?? 0}`);
    return requestAPI<ILogChunk>(
      `${runPath(ref)}/logs/${encodeURIComponent(taskId)}?${query.join('&')}`
    );
  }

  /**
   * Run part of a finished run again: on Airflow its chosen tasks are cleared
   * and run again in that run; locally a new partial run starts.
   */
  export async function clear(
    ref: IRunRef,
    body: IClearRunRequest
  ): Promise<IRun> {
    return normaliseRun(
      await requestAPI<IRun>(`${runPath(ref)}/clear`, post(body))
    );
  }

  /** Cancel a run; the run as it is now. */
  export async function cancel(ref: IRunRef): Promise<IRun> {
    return normaliseRun(
      await requestAPI<IRun>(`${runPath(ref)}/cancel`, post({}))
    );
  }

  /**
   * Approve or reject a task that awaits approval (an approval gate). A
   * comment is sent only when given. The run as it is after the decision
   * when the server sends it back, else null (the caller reads it again).
   */
  export async function decide(
    ref: IRunRef,
    taskId: string,
    decision: IDecisionRequest['decision'],
    comment?: string
  ): Promise<IRun | null> {
    const body: IDecisionRequest = { decision };
    const text = comment?.trim();
    if (text) {
      body.comment = text;
    }
    const reply = await requestAPI<unknown>(
      `${runPath(ref)}/tasks/${encodeURIComponent(taskId)}/decision`,
      post(body)
    );
    const run = (reply as { run?: unknown })?.run ?? reply;
    return run &&
      typeof run === 'object' &&
      Array.isArray((run as IRun).tasks) &&
      typeof (run as IRun).id === 'string'
      ? normaliseRun(run as IRun)
      : null;
  }

  /** One check of whether Airflow imported the published DAG (at `commit`). */
  export function publishStatus(body: {
    runtime_config: string;
    dag_id: string;
    commit?: string | null;
  }): Promise<IPublishStatus> {
    const payload: { [key: string]: string } = {
      runtime_config: body.runtime_config,
      dag_id: body.dag_id
    };
    if (body.commit) {
      payload.commit = body.commit;
    }
    return requestAPI<IPublishStatus>('publish-status', post(payload));
  }
}
