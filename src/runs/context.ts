/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * What the runs views share: settings, translations, and news of runs started
 * or cancelled anywhere (so the Runs panel refreshes at once).
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import type { ICatalogStore } from '../tokens';
import { DEFAULT_RUNS_SETTINGS, IRunsSettings } from './ids';
import type { IRun, IRunTask } from './types';

/** Shared by the editor run views, the Runs panel and the log viewers. */
export class RunsContext {
  constructor(options: RunsContext.IOptions) {
    this.trans = options.trans;
    this.catalogs = options.catalogs;
    this._openLog = options.openLog;
    this._openRun = options.openRun;
  }

  readonly trans: TranslationBundle;

  /** The server's catalogs (runtime configurations...). */
  readonly catalogs: ICatalogStore;

  /** The current settings. */
  get settings(): IRunsSettings {
    return this._settings;
  }

  /** Emitted when the settings change. */
  get settingsChanged(): ISignal<this, IRunsSettings> {
    return this._settingsChanged;
  }

  updateSettings(value: Partial<IRunsSettings>): void {
    this._settings = { ...this._settings, ...value };
    this._settingsChanged.emit(this._settings);
  }

  /** Emitted with a run that was started, re-run or cancelled here. */
  get runChanged(): ISignal<this, IRun> {
    return this._runChanged;
  }

  /** Tell the views about a run started or cancelled. */
  announce(run: IRun): void {
    this._runChanged.emit(run);
  }

  /** Open a task's log in the main area. */
  openLog(run: IRun, task: IRunTask): void {
    this._openLog(run, task);
  }

  /** Show a run in the Runs panel. */
  openRun(run: IRun): void {
    this._openRun(run);
  }

  private _settings: IRunsSettings = { ...DEFAULT_RUNS_SETTINGS };
  private _settingsChanged = new Signal<this, IRunsSettings>(this);
  private _runChanged = new Signal<this, IRun>(this);
  private _openLog: (run: IRun, task: IRunTask) => void;
  private _openRun: (run: IRun) => void;
}

export namespace RunsContext {
  export interface IOptions {
    trans: TranslationBundle;
    catalogs: ICatalogStore;
    openLog: (run: IRun, task: IRunTask) => void;
    openRun: (run: IRun) => void;
  }
}
