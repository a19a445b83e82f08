/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * UI-free followers of a run and of a task's log: they poll while there is
 * something to wait for, keep the last good state when a call fails (nothing
 * shown is lost), and say what went wrong in words.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { describeError } from '../api';
import { MLPipeRequestError } from '../request';
import { RunsClient } from './client';
import { LogTail } from './logTail';
import { Poller, StopReason } from './poller';
import { isRunActive, isTaskActive } from './states';
import type { ILogChunk, IRun, IRunRef } from './types';

/** Calls the followers make; replaced in tests. */
export interface IRunsBackend {
  get(ref: IRunRef): Promise<IRun>;
  log(
    ref: IRunRef,
    taskId: string,
    options: { tryNumber?: number; offset?: number }
  ): Promise<ILogChunk>;
}

const defaultBackend: IRunsBackend = {
  get: ref => RunsClient.get(ref),
  log: (ref, taskId, options) => RunsClient.log(ref, taskId, options)
};

/** Whether an error means the thing asked for does not exist (any more). */
export function isNotFound(error: unknown): boolean {
  return error instanceof MLPipeRequestError && error.status === 404;
}

/** Follows one run until it ends. */
export class RunWatcher implements IDisposable {
  constructor(options: RunWatcher.IOptions) {
    this.ref = {
      runtime_config: options.ref.runtime_config,
      dag_id: options.ref.dag_id,
      id: options.ref.id
    };
    this._run = options.initial ?? null;
    const backend = options.backend ?? defaultBackend;
    this._poller = new Poller<IRun>({
      poll: () => backend.get(this.ref),
      interval: options.interval,
      maxFailures: options.maxFailures ?? 10,
      onValue: run => {
        this._run = run;
        this._error = null;
        this._changed.emit();
        return !isRunActive(run.state);
      },
      onError: error => {
        this._error = isNotFound(error)
          ? 'This run no longer exists on the server.'
          : describeError(error).message;
        this._changed.emit();
        return isNotFound(error);
      },
      onStop: reason => {
        this._stopReason = reason;
        this._changed.emit();
      }
    });
  }

  readonly ref: IRunRef;

  /** Emitted after each poll, failed or not, and when polling stops. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The run as last read (kept when a later call fails). */
  get run(): IRun | null {
    return this._run;
  }

  /** What went wrong with the last call, in words; null after a good one. */
  get error(): string | null {
    return this._error;
  }

  /** Whether it still polls. */
  get following(): boolean {
    return this._poller.running;
  }

  /** Why it stopped polling (null while it polls). */
  get stopReason(): StopReason | null {
    return this._stopReason;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  start(): void {
    this._poller.start();
  }

  /** Ask now (after a cancel, say). */
  refresh(): void {
    this._poller.refresh();
  }

  /** Use a run the caller already has (e.g. the reply to cancel). */
  update(run: IRun): void {
    this._run = run;
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poller.dispose();
    Signal.clearData(this);
  }

  private _poller: Poller<IRun>;
  private _run: IRun | null;
  private _error: string | null = null;
  private _stopReason: StopReason | null = null;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

export namespace RunWatcher {
  export interface IOptions {
    ref: IRunRef;
    /** Milliseconds between polls. */
    interval: number | (() => number);
    /** The run as already known (from the start or list call). */
    initial?: IRun;
    maxFailures?: number;
    backend?: IRunsBackend;
  }
}

/**
 * Follows a task's log: asks for what follows the last offset until the
 * server says it is complete, or the task ended and nothing more came.
 */
export class LogFollower implements IDisposable {
  constructor(options: LogFollower.IOptions) {
    this.ref = options.ref;
    this.taskId = options.taskId;
    this.tryNumber = options.tryNumber;
    this.tail = new LogTail({ maxChars: options.maxChars });
    const backend = options.backend ?? defaultBackend;
    const taskState = options.taskState ?? (() => 'running');
    let requestedAt = 0;
    this._poller = new Poller<ILogChunk>({
      poll: () => {
        requestedAt = this.tail.offset;
        return backend.log(this.ref, this.taskId, {
          tryNumber: this.tryNumber,
          offset: requestedAt
        });
      },
      interval: options.interval,
      maxFailures: options.maxFailures ?? 10,
      onValue: chunk => {
        const grew = this.tail.append(chunk, requestedAt);
        this._error = null;
        this._changed.emit();
        // a server that never says "complete" still stops once the task is
        // over and a poll brought nothing new
        return (
          this.tail.complete ||
          (grew && !chunk.text && !isTaskActive(taskState()))
        );
      },
      onError: error => {
        this._error = isNotFound(error)
          ? 'There is no log for this task yet.'
          : describeError(error).message;
        this._changed.emit();
        // a task that has not started has no log yet: keep asking while it may start
        return isNotFound(error) && !isTaskActive(taskState());
      },
      onStop: () => this._changed.emit()
    });
  }

  readonly ref: IRunRef;
  readonly taskId: string;
  readonly tryNumber: number | undefined;
  readonly tail: LogTail;

  /** Emitted when text came, a call failed, or following stopped. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** What went wrong with the last call; null after a good one. */
  get error(): string | null {
    return this._error;
  }

  /** Whether it still polls. */
  get following(): boolean {
    return this._poller.running;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  start(): void {
    this._poller.start();
  }

  refresh(): void {
    this._poller.refresh();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poller.dispose();
    Signal.clearData(this);
  }

  private _poller: Poller<ILogChunk>;
  private _error: string | null = null;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

export namespace LogFollower {
  export interface IOptions {
    ref: IRunRef;
    taskId: string;
    tryNumber?: number;
    interval: number | (() => number);
    /** The task's current state (from the run watcher), to know when to stop. */
    taskState?: () => string;
    maxChars?: number;
    maxFailures?: number;
    backend?: IRunsBackend;
  }
}
