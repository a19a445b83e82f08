/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Typed calls to the mlpipe-lab REST API, and a shared, UI-free cache of the
 * catalogs that views subscribe to.
 */

import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { MLPipeRequestError, requestAPI } from './request';
import type { ICatalogStore } from './tokens';
import { MLPipeAPI } from './tokens';

const schemaCache = new Map<string, Promise<any>>();

function json(method: string, body: unknown): RequestInit {
  return { method, body: JSON.stringify(body) };
}

/** The REST API of the server extension. */
export namespace MLPipeClient {
  /** Schema names and node types. */
  export function schemaIndex(): Promise<MLPipeAPI.ISchemaIndex> {
    return cached('index', () => requestAPI<MLPipeAPI.ISchemaIndex>('schemas'));
  }

  /** A self-contained JSON Schema (cached for the session). */
  export function schema(name: string, op?: string): Promise<any> {
    const query = op ? `?op=${encodeURIComponent(op)}` : '';
    const endPoint = `schemas/${encodeURIComponent(name)}${query}`;
    return cached(endPoint, () => requestAPI<any>(endPoint));
  }

  /** Registered models of an MLflow registry (names containing `filter`). */
  export function mlflowModels(
    trackingUri: string,
    filter = ''
  ): Promise<MLPipeAPI.IMlflowModels> {
    const query = new URLSearchParams({ tracking_uri: trackingUri, filter });
    return requestAPI<MLPipeAPI.IMlflowModels>(`mlflow/models?${query}`);
  }

  /** A registered model's versions (newest first) and aliases. */
  export function mlflowVersions(
    trackingUri: string,
    name: string
  ): Promise<MLPipeAPI.IMlflowVersions> {
    const query = new URLSearchParams({ tracking_uri: trackingUri });
    return requestAPI<MLPipeAPI.IMlflowVersions>(
      `mlflow/models/${encodeURIComponent(name)}/versions?${query}`
    );
  }

  /**
   * The components of every component catalog (palette entries with their
   * properties schemas), and what could not be read.
   */
  export async function components(): Promise<MLPipeAPI.IComponentList> {
    const reply =
      await requestAPI<Partial<MLPipeAPI.IComponentList>>('components');
    const list = Array.isArray(reply?.components) ? reply.components : [];
    return {
      components: list.filter(
        (c): c is MLPipeAPI.IComponent =>
          !!c && typeof c.id === 'string' && !!c.id
      ),
      problems: Array.isArray(reply?.problems) ? reply.problems : []
    };
  }

  function cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    let promise = schemaCache.get(key);
    if (!promise) {
      promise = load();
      schemaCache.set(key, promise);
      // a failure is not cached: the next call asks again
      promise.catch(() => schemaCache.delete(key));
    }
    return promise;
  }

  export async function listCatalog<
    T extends MLPipeAPI.ICatalogEntry = MLPipeAPI.ICatalogEntry
  >(kind: MLPipeAPI.CatalogKind): Promise<T[]> {
    const reply = await requestAPI<{ items: T[] }>(`catalogs/${kind}`);
    return Array.isArray(reply?.items) ? reply.items : [];
  }

  export function getEntry(
    kind: MLPipeAPI.CatalogKind,
    name: string
  ): Promise<MLPipeAPI.ICatalogEntry> {
    return requestAPI(`catalogs/${kind}/${encodeURIComponent(name)}`);
  }

  export function createEntry(
    kind: MLPipeAPI.CatalogKind,
    entry: object
  ): Promise<MLPipeAPI.ICatalogEntry> {
    return requestAPI(`catalogs/${kind}`, json('POST', entry));
  }

  export function updateEntry(
    kind: MLPipeAPI.CatalogKind,
    name: string,
    entry: object
  ): Promise<MLPipeAPI.ICatalogEntry> {
    return requestAPI(
      `catalogs/${kind}/${encodeURIComponent(name)}`,
      json('PUT', entry)
    );
  }

  export async function deleteEntry(
    kind: MLPipeAPI.CatalogKind,
    name: string
  ): Promise<void> {
    await requestAPI(`catalogs/${kind}/${encodeURIComponent(name)}`, {
      method: 'DELETE'
    });
  }

  /** Validate a pipeline: the saved file, or `content` when given. */
  export function validate(
    path: string,
    content?: string
  ): Promise<MLPipeAPI.IValidationResult> {
    return requestAPI(
      'validate',
      json('POST', content === undefined ? { path } : { path, content })
    );
  }

  /**
   * Compile the saved pipeline into its DAG file (offline). The server never
   * replaces a file it did not write; `overwrite` (after the user agreed)
   * lets it replace an earlier export.
   */
  export function exportPipeline(
    path: string,
    runtimeConfig: string,
    options: { output?: string; overwrite?: boolean } = {}
  ): Promise<MLPipeAPI.IExportResult> {
    const body: { [key: string]: string | boolean } = {
      path,
      runtime_config: runtimeConfig
    };
    if (options.output) {
      body.output = options.output;
    }
    if (options.overwrite) {
      body.overwrite = true;
    }
    return requestAPI('export', json('POST', body));
  }

  /** A schedule checked and described by the server (with its next runs). */
  export function schedule(
    expression: string,
    startDate?: string
  ): Promise<MLPipeAPI.IScheduleInfo> {
    const query = new URLSearchParams({ expression });
    if (startDate) {
      query.set('start_date', startDate);
    }
    return requestAPI(`schedule?${query}`);
  }

  /**
   * Where the next export of the pipeline (or of `content`) writes, and with
   * `runtimeConfig` where a submit commits it; writes nothing.
   */
  export function exportTarget(
    path: string,
    content?: string,
    runtimeConfig?: string
  ): Promise<MLPipeAPI.IExportTarget> {
    return requestAPI(
      'export',
      json('POST', {
        path,
        dry_run: true,
        ...(content === undefined ? {} : { content }),
        ...(runtimeConfig ? { runtime_config: runtimeConfig } : {})
      })
    );
  }

  /**
   * Submit the saved pipeline with a runtime configuration (upload its files,
   * commit its DAG). The server refuses plain-value secrets unless
   * `allowPlainSecrets`, and a DAG id another pipeline file published unless
   * `replace` (each after the user agreed).
   */
  export function submitPipeline(
    path: string,
    runtimeConfig: string,
    consent: { allowPlainSecrets?: boolean; replace?: boolean } = {}
  ): Promise<MLPipeAPI.ISubmitResult> {
    return requestAPI(
      'submit',
      json('POST', {
        path,
        runtime_config: runtimeConfig,
        ...(consent.allowPlainSecrets ? { allow_plain_secrets: true } : {}),
        ...(consent.replace ? { replace: true } : {})
      })
    );
  }
}

/** Titles of the fields problems point at (the rest are spelled out from their keys). */
const FIELD_TITLES: { [key: string]: string } = {
  filename: 'File',
  runtime_image: 'Runtime image',
  cpu: 'CPU request',
  cpu_limit: 'CPU limit',
  memory: 'Memory request',
  memory_limit: 'Memory limit',
  gpu: 'GPUs',
  gpu_vendor: 'GPU resource name',
  env_vars: 'Environment variables',
  env_var: 'Name',
  kubernetes_secrets: 'Kubernetes secrets',
  mounted_volumes: 'Data volumes',
  pvc_name: 'Persistent volume claim',
  kubernetes_pod_annotations: 'Pod annotations',
  kubernetes_pod_labels: 'Pod labels',
  kubernetes_tolerations: 'Tolerations',
  kubernetes_shared_mem_size: 'Shared memory',
  pipeline_defaults: 'Defaults for all nodes',
  task_id: 'Task id',
  dag_id: 'DAG id',
  doc_md: 'Documentation'
};

/** Top-level groups that add nothing for the reader. */
const SILENT_GROUPS = new Set(['component_parameters', 'properties']);

/**
 * A problem's field path in words, e.g. `component_parameters/env_vars/0/value`
 * -> "Environment variables #1 › Value"; `mlpipe/retries` -> "Airflow settings › Retries".
 */
export function fieldName(path: string): string {
  const parts = path.split('/').filter(Boolean);
  const words: string[] = [];
  parts.forEach((part, i) => {
    if (i === 0 && SILENT_GROUPS.has(part)) {
      return;
    }
    if (/^\d+$/.test(part) && words.length) {
      words[words.length - 1] += ` #${Number(part) + 1}`;
      return;
    }
    if (part === 'mlpipe') {
      words.push('Airflow settings');
      return;
    }
    const title =
      FIELD_TITLES[part] ??
      part.charAt(0).toUpperCase() + part.slice(1).replace(/_/g, ' ');
    words.push(title);
  });
  return words.join(' › ');
}

/**
 * Where a problem is, in words: "node 'hello.py', field Runtime image".
 */
export function problemLocation(problem: MLPipeAPI.IProblem): string {
  const parts: string[] = [];
  const config = problem.extra?.runtime_config;
  if (typeof config === 'string' && !problem.node_id) {
    // a problem of the runtime configuration, not of the pipeline: fixed in its form
    const field = problem.extra?.config_field;
    return `runtime configuration '${config}'${
      typeof field === 'string' ? `, field ${field}` : ''
    }`;
  }
  if (problem.node_label || problem.node_id) {
    parts.push(`node '${problem.node_label ?? problem.node_id}'`);
  } else if (problem.path) {
    parts.push('pipeline');
  }
  if (problem.path) {
    const name = fieldName(problem.path);
    if (name) {
      parts.push(`field ${name}`);
    }
  }
  if (problem.line) {
    parts.push(
      `line ${problem.line}${problem.column ? `, column ${problem.column}` : ''}`
    );
  }
  return parts.join(', ');
}

/** One problem as a sentence a user can act on. */
export function describeProblem(problem: MLPipeAPI.IProblem): string {
  const where = problemLocation(problem);
  return where ? `${where}: ${problem.message}` : problem.message;
}

/** An error from any call, in plain words (with the problems that came with it). */
export function describeError(error: unknown): {
  message: string;
  problems: MLPipeAPI.IProblem[];
} {
  if (error instanceof MLPipeRequestError) {
    return { message: error.message, problems: error.problems };
  }
  if (error instanceof ServerConnection.NetworkError) {
    return {
      message:
        'The Jupyter server cannot be reached; check that it is running and try again.',
      problems: []
    };
  }
  return {
    message: (error as Error)?.message ?? String(error),
    problems: []
  };
}

/**
 * The catalogs as last read from the server, shared by every view (runtime
 * image dropdowns, the catalog panels, the export and submit dialogs).
 */
export class CatalogStore implements ICatalogStore {
  /** Emitted with the kind whose list changed. */
  get changed(): ISignal<this, MLPipeAPI.CatalogKind> {
    return this._changed;
  }

  /** The last list read for `kind` (empty before the first read). */
  items<T extends MLPipeAPI.ICatalogEntry = MLPipeAPI.ICatalogEntry>(
    kind: MLPipeAPI.CatalogKind
  ): T[] {
    return (this._items.get(kind) ?? []) as T[];
  }

  /** Whether `kind` was read at least once. */
  loaded(kind: MLPipeAPI.CatalogKind): boolean {
    return this._items.has(kind);
  }

  /** Read `kind` again from the server. */
  async refresh<T extends MLPipeAPI.ICatalogEntry = MLPipeAPI.ICatalogEntry>(
    kind: MLPipeAPI.CatalogKind
  ): Promise<T[]> {
    let pending = this._pending.get(kind);
    if (!pending) {
      pending = MLPipeClient.listCatalog(kind).finally(() =>
        this._pending.delete(kind)
      );
      this._pending.set(kind, pending);
    }
    const items = await pending;
    this._items.set(kind, items);
    this._changed.emit(kind);
    return items as T[];
  }

  /** The list, read from the server the first time. */
  async ensure<T extends MLPipeAPI.ICatalogEntry = MLPipeAPI.ICatalogEntry>(
    kind: MLPipeAPI.CatalogKind
  ): Promise<T[]> {
    return this.loaded(kind) ? this.items<T>(kind) : this.refresh<T>(kind);
  }

  private _items = new Map<string, MLPipeAPI.ICatalogEntry[]>();
  private _pending = new Map<string, Promise<MLPipeAPI.ICatalogEntry[]>>();
  private _changed = new Signal<this, MLPipeAPI.CatalogKind>(this);
}

/**
 * How a catalog entry is named in a dropdown: its display name, with its name
 * only when the display name does not say it already ("Local (embedded)", not
 * "Local (embedded) (local)").
 */
export function entryLabel(entry: {
  name: string;
  display_name?: string | null;
}): string {
  const shown = (entry.display_name ?? '').trim();
  if (!shown) {
    return entry.name;
  }
  return shown.toLowerCase().includes(entry.name.toLowerCase())
    ? shown
    : `${shown} (${entry.name})`;
}
