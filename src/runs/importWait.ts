/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * After a publish: ask the server, again and again, whether Airflow has
 * imported the DAG at the pushed commit, until it has, it reports import
 * errors, the time is up, or the user gives up.
 */

import { describeError } from '../api';
import { RunsClient } from './client';
import { Poller } from './poller';
import type { IPublishStatus } from './types';

/** How waiting for the import ended. */
export type ImportOutcome =
  | { state: 'imported'; status: IPublishStatus }
  | { state: 'import_error'; status: IPublishStatus }
  | { state: 'timeout'; status: IPublishStatus | null }
  | { state: 'failed'; message: string }
  | { state: 'cancelled' };

/** Options of {@link waitForImport}. */
export interface IWaitForImportOptions {
  runtimeConfig: string;
  dagId: string;
  /** The pushed commit; null when the publish changed nothing. */
  commit?: string | null;
  /** Milliseconds between checks. */
  interval: number;
  /** Give up after this many milliseconds. */
  timeout: number;
  /** Each status, e.g. to show progress. */
  onStatus?: (status: IPublishStatus) => void;
  /**
   * Each failed check that will be tried again (Airflow unreachable...): its
   * message at once, and how many checks failed in a row.
   */
  onError?: (message: string, failures: number) => void;
  /** Aborts the wait. */
  signal?: AbortSignal;
  /** One check (replaced in tests). */
  check?: (body: {
    runtime_config: string;
    dag_id: string;
    commit?: string | null;
  }) => Promise<IPublishStatus>;
  /** The clock (replaced in tests). */
  now?: () => number;
}

/** Wait until Airflow imported the DAG, or says why it cannot. */
export function waitForImport(
  options: IWaitForImportOptions
): Promise<ImportOutcome> {
  const check = options.check ?? (body => RunsClient.publishStatus(body));
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeout;
  let last: IPublishStatus | null = null;
  let lastError = '';
  return new Promise<ImportOutcome>(resolve => {
    let outcome: ImportOutcome | null = null;
    const poller = new Poller<IPublishStatus>({
      poll: () =>
        check({
          runtime_config: options.runtimeConfig,
          dag_id: options.dagId,
          commit: options.commit
        }),
      interval: options.interval,
      // Airflow or the network may be down for a moment; keep asking until the deadline
      maxFailures: Number.POSITIVE_INFINITY,
      maxInterval: Math.max(options.interval, 10_000),
      onValue: status => {
        last = status;
        options.onStatus?.(status);
        if (status.state === 'imported' || status.state === 'import_error') {
          outcome = {
            state: status.state,
            status
          } as ImportOutcome;
          return true;
        }
        if (now() >= deadline) {
          outcome = { state: 'timeout', status };
          return true;
        }
        return false;
      },
      onError: (error, failures) => {
        lastError = describeError(error).message;
        const status = (error as { status?: number })?.status;
        // a wrong configuration or DAG id (4xx) will not get better
        if (typeof status === 'number' && status >= 400 && status < 500) {
          outcome = { state: 'failed', message: lastError };
          return true;
        }
        if (now() >= deadline) {
          outcome = { state: 'failed', message: lastError };
          return true;
        }
        options.onError?.(lastError, failures);
        return false;
      },
      onStop: reason => {
        options.signal?.removeEventListener('abort', abort);
        if (reason === 'stopped') {
          resolve({ state: 'cancelled' });
        } else {
          resolve(
            outcome ??
              (lastError
                ? { state: 'failed', message: lastError }
                : { state: 'timeout', status: last })
          );
        }
      }
    });
    const abort = () => poller.stop();
    if (options.signal?.aborted) {
      resolve({ state: 'cancelled' });
      return;
    }
    options.signal?.addEventListener('abort', abort);
    poller.start();
  });
}

/** Where a wait for an import stands, for the words that show it. */
export interface IImportWaitState {
  dagId: string;
  commit?: string | null;
  /** Seconds since the wait started. */
  elapsed: number;
  /** The last status Airflow gave, if any. */
  status?: IPublishStatus | null;
  /** The last failed check's message, while checks fail. */
  error?: string | null;
  /** Failed checks in a row. */
  failures?: number;
}

/**
 * One line for the waiting notification: the elapsed time always moves; a
 * failing check says so at once (the full message is behind "Details").
 */
export function importWaitText(
  state: IImportWaitState,
  trans: { __: (text: string, ...args: any[]) => string }
): string {
  const at = state.commit
    ? trans.__(' at commit %1', state.commit.slice(0, 10))
    : '';
  if (state.error) {
    // first the counter and that it retries: a notification shows 140 characters
    return trans.__(
      '%1 s · failed %2×, trying again: %3',
      state.elapsed,
      state.failures ?? 1,
      state.error
    );
  }
  return (
    trans.__(
      'Waiting for Airflow to import DAG "%1"%2… %3 s',
      state.dagId,
      at,
      state.elapsed
    ) + (state.status?.message ? ` ${state.status.message}` : '')
  );
}
