/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/** Ids of the runs plugin, its commands and settings. */

import { EXTENSION_ID } from '../tokens';

/** The runs plugin; its settings schema is `schema/runs.json`. */
export const RUNS_PLUGIN_ID = `${EXTENSION_ID}:runs`;

/** Id of the Runs sidebar panel. */
export const RUNS_PANEL_ID = 'mlpipe-lab-runs';

/** Commands of the runs plugin. */
export namespace RunCommandIDs {
  export const runPipeline = `${EXTENSION_ID}:run-pipeline`;
  export const cancelRun = `${EXTENSION_ID}:cancel-run`;
  export const openRuns = `${EXTENSION_ID}:open-runs`;
  export const openRunLog = `${EXTENSION_ID}:open-run-log`;
  export const triggerRun = `${EXTENSION_ID}:trigger-run`;
  export const runNode = `${EXTENSION_ID}:run-node`;
  export const runFromNode = `${EXTENSION_ID}:run-from-node`;
  export const runToNode = `${EXTENSION_ID}:run-to-node`;
}

/** User settings of the runs plugin (from `schema/runs.json`). */
export interface IRunsSettings {
  /** Milliseconds between two reads of a running run. */
  pollInterval: number;
  /** Milliseconds between two reads of a growing log. */
  logPollInterval: number;
  /** Most runs the Runs panel lists. */
  listLimit: number;
  /** Seconds to wait for Airflow to import a published DAG. */
  importTimeout: number;
  /** Whether the failed node's log opens in the editor when a run fails. */
  showFailedLog: boolean;
}

export const DEFAULT_RUNS_SETTINGS: IRunsSettings = {
  pollInterval: 2000,
  logPollInterval: 1000,
  listLimit: 50,
  importTimeout: 300,
  showFailedLog: true
};
