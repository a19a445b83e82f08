/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Pure helpers for `.pipeline` files (Elyra pipeline-flow v3, app_data version 8).
 */

import { PIPELINE_EXTENSION } from './tokens';

/** pipeline-flow envelope version. */
export const PIPELINE_FLOW_VERSION = '3.0';

/** Elyra `app_data.version` written by this extension. */
export const ELYRA_PIPELINE_VERSION = 8;

/** `json_schema` of the pipeline-flow v3 envelope. */
export const PIPELINE_FLOW_SCHEMA_URL =
  'http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json';

/**
 * The canonical empty Airflow pipeline named `name`, serialised like Elyra's editor
 * (2-space indent, newline-terminated). Mirrors `mlpipe_lab.pipeline.document.new_document`.
 */
export function newPipelineContent(name: string): string {
  const doc = {
    doc_type: 'pipeline',
    version: PIPELINE_FLOW_VERSION,
    json_schema: PIPELINE_FLOW_SCHEMA_URL,
    id: 'elyra-auto-generated-pipeline',
    primary_pipeline: 'primary',
    pipelines: [
      {
        id: 'primary',
        nodes: [],
        app_data: {
          ui_data: { comments: [] },
          version: ELYRA_PIPELINE_VERSION,
          runtime_type: 'APACHE_AIRFLOW',
          properties: {
            name,
            runtime: 'Apache Airflow',
            pipeline_defaults: {}
          }
        },
        runtime_ref: ''
      }
    ],
    schemas: []
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** The last segment of a `/`-separated path. */
function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/**
 * Whether `path` names a pipeline file: its extension is `.pipeline` (any case).
 * A dot file called `.pipeline` has no extension, so it is not one.
 */
export function isPipelinePath(path: string): boolean {
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  return dot > 0 && name.slice(dot).toLowerCase() === PIPELINE_EXTENSION;
}

/**
 * The pipeline name for a file: its base name without the `.pipeline` extension
 * (`dir/untitled1.pipeline` -> `untitled1`).
 */
export function pipelineNameFromPath(path: string): string {
  const name = basename(path);
  return isPipelinePath(name)
    ? name.slice(0, name.length - PIPELINE_EXTENSION.length)
    : name;
}
