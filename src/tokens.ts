/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Identifiers, tokens and REST payload types shared by the mlpipe-lab plugins.
 */

import type { IWidgetTracker } from '@jupyterlab/apputils';
import type { DocumentWidget } from '@jupyterlab/docregistry';
import { Token } from '@lumino/coreutils';

import type { PipelineEditorModel } from './model/model';

/** npm / labextension name, also the URL namespace of the server routes. */
export const EXTENSION_ID = 'mlpipe-lab';

/** gettext domain of the extension's strings. */
export const TRANSLATION_DOMAIN = 'mlpipe_lab';

/** Name of the `.pipeline` file type in the document registry. */
export const PIPELINE_FILE_TYPE = 'mlpipe-pipeline';

/** File extension of pipeline files (Elyra compatible). */
export const PIPELINE_EXTENSION = '.pipeline';

/**
 * Plugin ids; each has a settings schema named after its suffix in `schema/`.
 */
export namespace PluginIDs {
  export const filetype = `${EXTENSION_ID}:filetype`;
  export const launcher = `${EXTENSION_ID}:launcher`;
  export const server = `${EXTENSION_ID}:server`;
  export const editor = `${EXTENSION_ID}:editor`;
  export const catalogs = `${EXTENSION_ID}:catalogs`;
  export const fileActions = `${EXTENSION_ID}:file-actions`;
  export const notebookActions = `${EXTENSION_ID}:notebook-actions`;
}

/** Name of the pipeline editor's widget factory (also the toolbar settings key). */
export const EDITOR_FACTORY = 'MLPipe Pipeline Editor';

/**
 * Command ids, of the form `mlpipe-lab:verb-noun`.
 */
export namespace CommandIDs {
  export const createNewPipeline = `${EXTENSION_ID}:create-new-pipeline`;
  export const savePipeline = `${EXTENSION_ID}:save-pipeline`;
  export const validatePipeline = `${EXTENSION_ID}:validate-pipeline`;
  export const exportPipeline = `${EXTENSION_ID}:export-pipeline`;
  export const submitPipeline = `${EXTENSION_ID}:submit-pipeline`;
  export const autoLayout = `${EXTENSION_ID}:auto-layout`;
  export const clearPipeline = `${EXTENSION_ID}:clear-pipeline`;
  export const undo = `${EXTENSION_ID}:undo`;
  export const redo = `${EXTENSION_ID}:redo`;
  export const toggleProperties = `${EXTENSION_ID}:open-properties`;
  export const deleteSelection = `${EXTENSION_ID}:delete-selection`;
  export const copySelection = `${EXTENSION_ID}:copy-selection`;
  export const cutSelection = `${EXTENSION_ID}:cut-selection`;
  export const paste = `${EXTENSION_ID}:paste`;
  export const selectAll = `${EXTENSION_ID}:select-all`;
  export const addComment = `${EXTENSION_ID}:add-comment`;
  export const fitView = `${EXTENSION_ID}:fit-view`;
  export const newFromSelection = `${EXTENSION_ID}:new-pipeline-from-selection`;
  export const addToPipeline = `${EXTENSION_ID}:add-to-pipeline`;
  export const exportAsDag = `${EXTENSION_ID}:export-as-dag`;
  export const notebookNewPipeline = `${EXTENSION_ID}:notebook-new-pipeline`;
  export const notebookAddToPipeline = `${EXTENSION_ID}:notebook-add-to-pipeline`;
  export const notebookExportAsDag = `${EXTENSION_ID}:notebook-export-as-dag`;
  export const openRuntimeImages = `${EXTENSION_ID}:open-runtime-images`;
  export const openRuntimeConfigs = `${EXTENSION_ID}:open-runtime-configs`;
}

/** The pipeline editor document widget. */
export interface IPipelineEditor extends DocumentWidget {
  /** The editor's model (graph, selection, history, problems). */
  readonly editorModel: PipelineEditorModel;
  /** Whether the properties panel is shown. */
  propertiesVisible: boolean;
  /** Validate the current (unsaved) content now. */
  validate(): Promise<MLPipeAPI.IValidationResult | null>;
  /** Lay the graph out left to right. */
  autoLayout(): Promise<void>;
  /** Fit the whole graph into the view. */
  fitView(): void;
  /** Give the keyboard to the canvas when nothing has it. */
  focusCanvas(): void;
}

/** Tracks the open pipeline editors. */
export type IPipelineEditorTracker = IWidgetTracker<IPipelineEditor>;

/** The pipeline editor tracker token. */
export const IPipelineEditorTracker = new Token<IPipelineEditorTracker>(
  `${EXTENSION_ID}:IPipelineEditorTracker`,
  'Tracks the open visual pipeline editors.'
);

/**
 * Payloads of the `/mlpipe-lab/...` REST API.
 */
export namespace MLPipeAPI {
  /** One thing wrong with a pipeline, as reported by the server. */
  export interface IProblem {
    code?: string;
    message: string;
    severity?: 'error' | 'warning' | string;
    pipeline?: string;
    node_id?: string;
    node_label?: string;
    /** JSON-pointer-like location of the field, e.g. `component_parameters/env_vars/0/value`. */
    path?: string;
    line?: number;
    column?: number;
    extra?: { [key: string]: unknown };
  }

  /** Reply of `POST /mlpipe-lab/validate`. */
  export interface IValidationResult {
    path: string;
    valid: boolean;
    problems: IProblem[];
  }

  /** Catalog kinds. */
  export type CatalogKind = 'runtime-images' | 'runtime-configs';

  /** An entry of a catalog, secrets masked. */
  export interface ICatalogEntry {
    name: string;
    display_name?: string;
    description?: string;
    source?: 'user' | 'builtin' | 'elyra' | string;
    read_only?: boolean;
    error?: string;
    tags?: string[];
    [key: string]: unknown;
  }

  /** A runtime image entry. */
  export interface IRuntimeImage extends ICatalogEntry {
    image?: string;
    pull_policy?: string;
    pull_secret?: string;
  }

  /** A runtime configuration entry. */
  export interface IRuntimeConfig extends ICatalogEntry {
    type?: 'local' | 'airflow' | string;
  }

  /** Reply of `POST /mlpipe-lab/export`. */
  export interface IExportResult {
    dag_id: string;
    dag_path: string;
    bundles: {
      node_id: string;
      key: string;
      sha256: string;
      path: string;
      files?: string[];
      size?: number;
    }[];
    problems: IProblem[];
    tasks: { node_id: string; task_id: string; label?: string }[];
    changed: boolean;
    /** An earlier export with other content was replaced (with consent). */
    replaced?: boolean;
    runtime_config?: string;
  }

  /** Reply of `POST /mlpipe-lab/export` with `dry_run`: where the next export writes. */
  export interface IExportTarget {
    dag_id: string;
    /** From the server root, e.g. `iris/dags/train.py`. */
    dag_path: string;
    /** What is at `dag_path` now: nothing, an earlier export, or someone's own file. */
    existing: { generated: boolean; source: string | null } | null;
  }

  /** One step of a publish. */
  export interface IPublishStep {
    step: string;
    status: string;
    message?: string;
    [key: string]: unknown;
  }

  /** Reply of `POST /mlpipe-lab/submit`. */
  export interface ISubmitResult {
    dag_id: string;
    commit: string | null;
    changed: boolean;
    branch: string;
    path: string;
    repo?: string;
    links: { commit?: string; dag?: string; [key: string]: string | undefined };
    uploaded?: string[];
    reused?: string[];
    steps: IPublishStep[];
    problems?: IProblem[];
    runtime_config?: string;
  }

  /** Reply of `GET /mlpipe-lab/schemas`. */
  export interface ISchemaIndex {
    schemas: string[];
    node_types: {
      [op: string]: {
        title: string;
        description?: string;
        extensions?: string[];
      };
    };
  }

  /** Reply of `GET /mlpipe-lab/mlflow/models`. */
  export interface IMlflowModels {
    tracking_uri: string;
    models: {
      name: string;
      description?: string;
      aliases: { [alias: string]: string };
      latest_versions: string[];
    }[];
  }

  /** One version of a registered model. */
  export interface IMlflowVersion {
    version: string;
    status: string;
    stage?: string | null;
    run_id?: string | null;
    aliases: string[];
    created?: number | null;
    description?: string;
  }

  /** Reply of `GET /mlpipe-lab/mlflow/models/<name>/versions`. */
  export interface IMlflowVersions {
    tracking_uri: string;
    name: string;
    aliases: { [alias: string]: string };
    versions: IMlflowVersion[];
  }

  /** Body of every non-2xx reply of the mlpipe-lab routes. */
  export interface IErrorReply {
    error: {
      message: string;
      /** What kind of error, e.g. `output-exists` (export: ask, then retry with overwrite). */
      code?: string;
      field?: string;
      details?: { [key: string]: unknown };
      problems?: IProblem[];
    };
  }

  /**
   * Reply of `GET /mlpipe-lab/schemas`: the names of the JSON Schemas the server ships,
   * either as a list or as a mapping keyed by name (wrapped in `schemas` or not).
   */
  export type SchemasReply =
    | string[]
    | { [name: string]: unknown }
    | { schemas: string[] | { [name: string]: unknown } };
}
