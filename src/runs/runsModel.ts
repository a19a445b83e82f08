/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * What the Runs panel shows, without the UI: the runs of one runtime
 * configuration (and DAG, for Airflow), read again while any of them is
 * still moving, and the expanded runs with their tasks.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { describeError } from '../api';
import { RunsClient } from './client';
import { Poller } from './poller';
import { isRunActive, runKey, sortRuns } from './states';
import type { IRun, IRunQuery } from './types';
import { RunWatcher } from './watch';

/** Calls the model makes; replaced in tests. */
export interface IRunsListBackend {
  list(query: IRunQuery): Promise<IRun[]>;
}

/** The runs list of the Runs panel. */
export class RunsListModel implements IDisposable {
  constructor(options: RunsListModel.IOptions) {
    this._options = options;
    this._backend = options.backend ?? { list: q => RunsClient.list(q) };
  }

  /** Emitted when anything shown changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The runtime configuration listed. */
  get runtimeConfig(): string {
    return this._runtimeConfig;
  }

  /** Whether the configuration is an Airflow one (its runs are listed per DAG). */
  get needsDag(): boolean {
    return this._needsDag;
  }

  /** The DAG id filter (Airflow needs one). */
  get dagId(): string {
    return this._dagId;
  }

  /** The runs, newest first. */
  get runs(): readonly IRun[] {
    return this._runs;
  }

  /** What went wrong with the last read, in words. */
  get error(): string | null {
    return this._error;
  }

  /** Whether a read is under way. */
  get loading(): boolean {
    return this._loading;
  }

  /** Whether the list is read again on its own (some run is still moving). */
  get autoRefreshing(): boolean {
    return !!this._poller?.running && this._anyActive;
  }

  /** Whether the list was read at least once for the current filter. */
  get loaded(): boolean {
    return this._loaded;
  }

  /** List another configuration (and DAG). */
  select(
    runtimeConfig: string,
    options: { isAirflow?: boolean; dagId?: string } = {}
  ): void {
    const dagId =
      options.dagId ??
      (runtimeConfig === this._runtimeConfig ? this._dagId : '');
    const needsDag = !!options.isAirflow;
    if (
      runtimeConfig === this._runtimeConfig &&
      dagId === this._dagId &&
      needsDag === this._needsDag &&
      this._loaded
    ) {
      return;
    }
    this._runtimeConfig = runtimeConfig;
    this._dagId = dagId;
    this._needsDag = needsDag;
    this._runs = [];
    this._loaded = false;
    this._error = null;
    this._collapseAll();
    this.refresh();
  }

  /** Set the DAG filter (reads again). */
  setDagId(dagId: string): void {
    this.select(this._runtimeConfig, { isAirflow: this._needsDag, dagId });
  }

  /** Read the list now, and again while a run is moving. */
  refresh(): void {
    if (this._disposed) {
      return;
    }
    if (!this._runtimeConfig || (this._needsDag && !this._dagId)) {
      this._poller?.dispose();
      this._changed.emit();
      return;
    }
    if (this._poller?.running) {
      this._poller.refresh();
      return;
    }
    this._poller?.dispose();
    const query: IRunQuery = {
      runtime_config: this._runtimeConfig,
      dag_id: this._dagId || undefined,
      limit: this._options.limit()
    };
    this._loading = true;
    this._changed.emit();
    this._poller = new Poller<IRun[]>({
      poll: () => this._backend.list(query),
      interval: () => this._options.interval(),
      maxFailures: 5,
      onValue: runs => {
        this._runs = sortRuns(runs);
        this._loading = false;
        this._loaded = true;
        this._error = null;
        this._anyActive = runs.some(r => isRunActive(r.state));
        this._refreshExpanded();
        this._changed.emit();
        return !this._anyActive;
      },
      onError: error => {
        this._loading = false;
        this._error = describeError(error).message;
        this._changed.emit();
        // a bad filter or configuration does not get better by asking again
        const status = (error as { status?: number })?.status;
        return typeof status === 'number' && status >= 400 && status < 500;
      },
      onStop: () => this._changed.emit()
    });
    this._poller.start();
  }

  /** The run shown with its tasks, when expanded. */
  details(run: IRun): RunWatcher | null {
    return this._expanded.get(runKey(run)) ?? null;
  }

  /** Whether a run is expanded. */
  isExpanded(run: IRun): boolean {
    return this._expanded.has(runKey(run));
  }

  /** Expand (read its tasks, following them while it runs) or collapse a run. */
  toggle(run: IRun): void {
    const key = runKey(run);
    const watcher = this._expanded.get(key);
    if (watcher) {
      watcher.dispose();
      this._expanded.delete(key);
    } else {
      this._expand(run);
    }
    this._changed.emit();
  }

  /** Expand a run (no-op when it is). */
  expand(run: IRun): void {
    if (!this._expanded.has(runKey(run))) {
      this._expand(run);
      this._changed.emit();
    }
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poller?.dispose();
    this._collapseAll();
    Signal.clearData(this);
  }

  private _expand(run: IRun): void {
    const watcher = new RunWatcher({
      ref: run,
      interval: () => this._options.interval(),
      backend: this._options.runBackend
    });
    watcher.changed.connect(() => {
      // a run that ended while expanded: the list shows its final state too
      const fresh = watcher.run;
      if (fresh) {
        const index = this._runs.findIndex(r => runKey(r) === runKey(fresh));
        if (index >= 0 && this._runs[index].state !== fresh.state) {
          this._runs = [...this._runs];
          this._runs[index] = { ...fresh, tasks: [] };
        }
      }
      this._changed.emit();
    });
    this._expanded.set(runKey(run), watcher);
    watcher.start();
  }

  /** Expanded runs that are still moving are followed by their watchers; restart ended ones that changed. */
  private _refreshExpanded(): void {
    for (const run of this._runs) {
      const watcher = this._expanded.get(runKey(run));
      if (
        watcher &&
        !watcher.following &&
        watcher.run &&
        watcher.run.state !== run.state
      ) {
        watcher.dispose();
        this._expand(run);
      }
    }
  }

  private _collapseAll(): void {
    for (const watcher of this._expanded.values()) {
      watcher.dispose();
    }
    this._expanded.clear();
  }

  private _options: RunsListModel.IOptions;
  private _backend: IRunsListBackend;
  private _runtimeConfig = '';
  private _needsDag = false;
  private _dagId = '';
  private _runs: IRun[] = [];
  private _error: string | null = null;
  private _loading = false;
  private _loaded = false;
  private _anyActive = false;
  private _poller: Poller<IRun[]> | null = null;
  private _expanded = new Map<string, RunWatcher>();
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

export namespace RunsListModel {
  export interface IOptions {
    /** Milliseconds between reads while a run is moving. */
    interval: () => number;
    /** Most runs listed. */
    limit: () => number;
    backend?: IRunsListBackend;
    runBackend?: RunWatcher.IOptions['backend'];
  }
}
