/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Identifiers, tokens and REST payload types shared by the mlpipe-lab plugins.
 *
 * Extension points are tokens (never module globals), each provided by one
 * plugin and required by the plugins that add to it:
 *
 * | token                  | provided by           | what others add                          |
 * | ---------------------- | --------------------- | ---------------------------------------- |
 * | `INodeTypeRegistry`    | `mlpipe-lab:registry` | palette entries / canvas node types      |
 * | `IFormWidgetRegistry`  | `mlpipe-lab:registry` | form widgets named by `x-mlpipe-widget`  |
 * | `ICatalogStore`        | `mlpipe-lab:registry` | catalog kinds (read through the REST API) |
 * | `ISubmitFollowUps`     | `mlpipe-lab:registry` | buttons of the "Pipeline submitted" dialog |
 * | `IPipelineEditorTracker` | `mlpipe-lab:editor` | per-editor state, e.g. node decorations |
 *
 * Example, a plugin adding an operator node type and its properties widget:
 *
 * ```ts
 * const plugin: JupyterFrontEndPlugin<void> = {
 *   id: 'my-ext:operators',
 *   requires: [INodeTypeRegistry, IFormWidgetRegistry],
 *   activate: (app, nodeTypes, widgets) => {
 *     nodeTypes.add({
 *       op: 'airflow-operator:BashOperator',
 *       title: 'Bash operator',
 *       category: 'Airflow operators',
 *       icon: terminalIcon,
 *       runsFile: false
 *     });
 *     // used wherever a schema property says "x-mlpipe-widget": "operator-arg"
 *     widgets.add('operator-arg', OperatorArgWidget);
 *   }
 * };
 * ```
 */

import type { IWidgetTracker } from '@jupyterlab/apputils';
import type { DocumentWidget } from '@jupyterlab/docregistry';
import type { LabIcon } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';
import type { Widget as FormWidget } from '@rjsf/utils';

import type { NodeDecorations } from './editor/decorations';
import type { IElyraNode } from './model/elyra';
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
  export const registry = `${EXTENSION_ID}:registry`;
  export const components = `${EXTENSION_ID}:components`;
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
  export const togglePalette = `${EXTENSION_ID}:toggle-palette`;
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
  export const openComponentCatalogs = `${EXTENSION_ID}:open-component-catalogs`;
  export const reloadComponents = `${EXTENSION_ID}:reload-components`;
  export const groupIntoSupernode = `${EXTENSION_ID}:group-into-supernode`;
  export const ungroupSupernode = `${EXTENSION_ID}:ungroup-supernode`;
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
  /**
   * Badges other features put on this editor's nodes (e.g. a run's task
   * states); not part of the document, never dirty it.
   */
  readonly decorations: NodeDecorations;
}

/** Tracks the open pipeline editors. */
export type IPipelineEditorTracker = IWidgetTracker<IPipelineEditor>;

/** The pipeline editor tracker token. */
export const IPipelineEditorTracker = new Token<IPipelineEditorTracker>(
  `${EXTENSION_ID}:IPipelineEditorTracker`,
  'Tracks the open visual pipeline editors.'
);

/**
 * A kind of node: a palette entry, how the canvas draws it, and (by its `op`)
 * which properties schema its form uses.
 */
export interface INodeType {
  /** The node's `op` in the pipeline file, e.g. `execute-notebook-node`. */
  op: string;
  /** Palette and canvas title (translated). */
  title: string;
  icon: LabIcon;
  /** Palette tooltip (translated). */
  description?: string;
  /** Palette group (translated); default "Nodes". */
  category?: string;
  /** Order within the group (lower first); default 100. */
  rank?: number;
  /**
   * Not offered in the palette (e.g. another op id of a component, which
   * nodes in older files use): only how such nodes look and their form.
   */
  hidden?: boolean;
  /**
   * File name endings (`.ipynb`) whose files become this node type when
   * dropped on the canvas or added from the file browser.
   */
  extensions?: readonly string[];
  /** Whether the node runs a file (the canvas then says "no file chosen"); default: it has extensions. */
  runsFile?: boolean;
  /** Text under the label on the canvas (default: the node's file). */
  subtitle?(node: IElyraNode): string;
  /**
   * The properties schema of the node form (default: the server's
   * `node-properties` schema for `op`).
   */
  schema?(): Promise<{ [key: string]: any }>;
}

/** The node types of the palette and canvas. */
export interface INodeTypeRegistry {
  /** Emitted when a type is added or removed. */
  readonly changed: ISignal<INodeTypeRegistry, void>;
  /** Add a type (replacing one with the same `op`); dispose to remove it. */
  add(type: INodeType): IDisposable;
  /** The type of an `op`, if registered. */
  get(op: string | undefined): INodeType | undefined;
  /** Every type, by category then rank. */
  list(): readonly INodeType[];
  /** The type a file becomes as a node (by its extension), if any. */
  forPath(path: string): INodeType | undefined;
}

/** The node type registry token. */
export const INodeTypeRegistry = new Token<INodeTypeRegistry>(
  `${EXTENSION_ID}:INodeTypeRegistry`,
  'Node types of the pipeline editor: palette entries and how nodes look on the canvas.'
);

/**
 * Form widgets, by the name a schema property gives in `x-mlpipe-widget`
 * (`file`, `runtime-image`, `mlflow-model`...). Forms never hard-code widgets:
 * the schema says which one a field uses, this registry renders it.
 */
export interface IFormWidgetRegistry {
  readonly changed: ISignal<IFormWidgetRegistry, void>;
  /** Add a widget under `name` (replacing one of that name); dispose to remove it. */
  add(name: string, widget: FormWidget): IDisposable;
  /** Whether a widget has that name. */
  has(name: string): boolean;
  /** Every widget, by name (what the form component takes). */
  widgets(): { [name: string]: FormWidget };
}

/** The form widget registry token. */
export const IFormWidgetRegistry = new Token<IFormWidgetRegistry>(
  `${EXTENSION_ID}:IFormWidgetRegistry`,
  "Widgets of the schema-driven forms, named by the schemas' x-mlpipe-widget annotations."
);

/** The page's cache of the server's catalogs (runtime images, configurations...). */
export interface ICatalogStore {
  /** Emitted with the kind whose list changed. */
  readonly changed: ISignal<ICatalogStore, string>;
  /** The last list read for `kind` (empty before the first read). */
  items<T extends MLPipeAPI.ICatalogEntry = MLPipeAPI.ICatalogEntry>(
    kind: string
  ): T[];
  /** Whether `kind` was read at least once. */
  loaded(kind: string): boolean;
  /** Read `kind` again from the server. */
  refresh<T extends MLPipeAPI.ICatalogEntry = MLPipeAPI.ICatalogEntry>(
    kind: string
  ): Promise<T[]>;
  /** The list, read from the server the first time. */
  ensure<T extends MLPipeAPI.ICatalogEntry = MLPipeAPI.ICatalogEntry>(
    kind: string
  ): Promise<T[]>;
}

/** The catalog store token. */
export const ICatalogStore = new Token<ICatalogStore>(
  `${EXTENSION_ID}:ICatalogStore`,
  'The catalogs of the server (runtime images, runtime configurations...), cached for the page.'
);

/**
 * A next step offered as a button of the "Pipeline submitted" dialog (e.g.
 * "Trigger run", added by the runs plugin).
 */
export interface ISubmitFollowUp {
  /** The button's label (translated). */
  label: string;
  /** Whether to offer it after this submit with this configuration. */
  applies(
    config: MLPipeAPI.IRuntimeConfig | undefined,
    result: MLPipeAPI.ISubmitResult
  ): boolean;
  /** Do it (after the dialog closed). */
  run(
    editor: IPipelineEditor,
    result: MLPipeAPI.ISubmitResult,
    runtimeConfig: string
  ): Promise<void>;
}

/** The follow-ups offered after a successful submit. */
export interface ISubmitFollowUps {
  /** Offer `followUp` from now on; dispose to stop. */
  add(followUp: ISubmitFollowUp): IDisposable;
  /** Every follow-up, in the order added. */
  list(): readonly ISubmitFollowUp[];
}

/** The submit follow-ups token. */
export const ISubmitFollowUps = new Token<ISubmitFollowUps>(
  `${EXTENSION_ID}:ISubmitFollowUps`,
  'Next steps offered after a pipeline was submitted (e.g. Trigger run).'
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

  /** Catalog kinds of the server (other plugins may add their own kinds). */
  export type CatalogKind = 'runtime-images' | 'runtime-configs' | string;

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

  /** A component catalog entry (Airflow operators, KFP components). */
  export interface IComponentCatalog extends ICatalogEntry {
    type?: string;
    runtime_type?: string;
    categories?: string[];
    paths?: string[];
    modules?: string[];
  }

  /** Kinds of components a catalog lists. */
  export type ComponentKind = 'airflow-operator' | 'kfp-component' | string;

  /** One palette entry from a component catalog (`GET /mlpipe-lab/components`). */
  export interface IComponent {
    /** The node's `op` in the pipeline file. */
    id: string;
    label: string;
    description?: string;
    /** Name of the catalog it comes from. */
    catalog: string;
    kind: ComponentKind;
    /**
     * JSON Schema of the node's properties (`component_parameters`), or of the
     * whole node form (`label`, `component_parameters`, `mlpipe`).
     */
    schema?: { [key: string]: any };
    /** Other op ids of the same component (those Elyra saved its nodes with). */
    aliases?: string[];
    [key: string]: unknown;
  }

  /** Reply of `GET /mlpipe-lab/components`. */
  export interface IComponentList {
    components: IComponent[];
    /** Catalogs or files that could not be read. */
    problems: IProblem[];
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

  /** Reply of `GET /mlpipe-lab/schedule`. */
  export interface IScheduleInfo {
    /** As it goes into the DAG; null: runs only when triggered. */
    schedule: string | null;
    /** In words, e.g. "At 03:00 UTC, on Monday to Friday". */
    description: string;
    /** The next runs, "YYYY-MM-DD HH:MM" (UTC). */
    next_runs: string[];
  }

  /** Reply of `POST /mlpipe-lab/export` with `dry_run`: where the next export writes. */
  export interface IExportTarget {
    dag_id: string;
    /** From the server root, e.g. `iris/dags/train.py`. */
    dag_path: string;
    /** What is at `dag_path` now: nothing, an earlier export, or someone's own file. */
    existing: { generated: boolean; source: string | null } | null;
    /** With a runtime configuration: where a submit commits the DAG. */
    submit?: { repo: string; branch: string; path: string };
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
