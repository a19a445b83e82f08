/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Identifiers and REST payload types shared by the mlpipe-lab plugins.
 */

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
}

/**
 * Command ids, of the form `mlpipe-lab:verb-noun`.
 */
export namespace CommandIDs {
  export const createNewPipeline = `${EXTENSION_ID}:create-new-pipeline`;
}

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

  /** Body of every non-2xx reply of the mlpipe-lab routes. */
  export interface IErrorReply {
    error: {
      message: string;
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
