/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Types and pure helpers for Elyra `.pipeline` documents (pipeline-flow v3,
 * `app_data.version` 8).
 *
 * The editor keeps the parsed document itself and patches it in place, so every
 * key these helpers do not know about survives a load -> edit -> save round trip.
 */

import { IModelMessage, message } from './messages';

/** A JSON object with keys we may not know. */
export interface IJSONObject {
  [key: string]: any;
}

/** A link into a node's input port (links live on the TARGET node). */
export interface IElyraLink extends IJSONObject {
  id?: string;
  node_id_ref: string;
  port_id_ref?: string;
}

/** An input or output port of a node. */
export interface IElyraPort extends IJSONObject {
  id: string;
  links?: IElyraLink[];
}

/** A node of the primary pipeline. */
export interface IElyraNode extends IJSONObject {
  id: string;
  type?: string;
  op?: string;
  app_data?: IJSONObject;
  inputs?: IElyraPort[];
  outputs?: IElyraPort[];
}

/** A canvas comment (sticky note), in `pipelines[0].app_data.ui_data.comments`. */
export interface IElyraComment extends IJSONObject {
  id: string;
  x_pos: number;
  y_pos: number;
  width?: number;
  height?: number;
  content?: string;
  associated_id_refs?: { id?: string; node_ref: string }[];
}

/** One pipeline of the document. */
export interface IElyraPipeline extends IJSONObject {
  id: string;
  nodes: IElyraNode[];
  app_data?: IJSONObject;
}

/** The whole `.pipeline` document. */
export interface IPipelineDocument extends IJSONObject {
  doc_type?: string;
  version?: string;
  primary_pipeline?: string;
  pipelines: IElyraPipeline[];
}

/** The node types (`op`) of generic nodes. */
export const NODE_OPS = [
  'execute-notebook-node',
  'execute-python-node',
  'execute-r-node'
] as const;

/** A generic node type. */
export type NodeOp = (typeof NODE_OPS)[number];

/** mlpipe-lab's "Serve MLflow model" node type: no file, expanded into several tasks. */
export const SERVE_OP = 'mlpipe:serve-mlflow-model';

/** Every node type the palette offers. */
export const PALETTE_OPS = [...NODE_OPS, SERVE_OP] as const;

/** A node type of the palette. */
export type PaletteOp = (typeof PALETTE_OPS)[number];

/** "models:/NAME@ALIAS" (or "/VERSION") of a serve node, or '' when no model is chosen. */
export function serveModelRef(node: IElyraNode): string {
  const params = (node.app_data?.component_parameters ?? {}) as IJSONObject;
  const name = typeof params.model_name === 'string' ? params.model_name : '';
  if (!name) {
    return '';
  }
  if (typeof params.model_alias === 'string' && params.model_alias) {
    return `models:/${name}@${params.model_alias}`;
  }
  if (typeof params.model_version === 'string' && params.model_version) {
    return `models:/${name}/${params.model_version}`;
  }
  return `models:/${name}`;
}

/** File extensions of each generic node type (lower case). */
export const OP_EXTENSIONS: { [op in NodeOp]: string[] } = {
  'execute-notebook-node': ['.ipynb'],
  'execute-python-node': ['.py'],
  'execute-r-node': ['.r']
};

/** Elyra's default node description per node type. */
const OP_DESCRIPTIONS: { [op in NodeOp]: string } = {
  'execute-notebook-node': 'Run notebook file',
  'execute-python-node': 'Run Python script',
  'execute-r-node': 'Run R script'
};

/** Input port id of generic nodes. */
export const IN_PORT = 'inPort';

/** Output port id of generic nodes. */
export const OUT_PORT = 'outPort';

/** The node type that runs `path`, or null when no generic node runs such files. */
export function opForPath(path: string): NodeOp | null {
  const name = basename(path).toLowerCase();
  for (const op of NODE_OPS) {
    if (OP_EXTENSIONS[op].some(ext => name.endsWith(ext) && name !== ext)) {
      return op;
    }
  }
  return null;
}

/** Whether `op` is one of the generic node types. */
export function isNodeOp(op: unknown): op is NodeOp {
  return typeof op === 'string' && (NODE_OPS as readonly string[]).includes(op);
}

/** A random RFC 4122 version 4 id. */
export function uuid(): string {
  const cryptoApi = (globalThis as any).crypto;
  if (cryptoApi && typeof cryptoApi.randomUUID === 'function') {
    return cryptoApi.randomUUID();
  }
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, c => {
    const r = (Math.random() * 16) | 0;
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}

/** The last segment of a `/`-separated path. */
export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** The folder of a `/`-separated path (`''` for the root). */
export function dirname(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash < 0 ? '' : trimmed.slice(0, slash);
}

/** Split a path into its non-empty, non-`.` segments, resolving `..`. */
function segments(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') {
      continue;
    }
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') {
        out.pop();
      } else {
        out.push('..');
      }
      continue;
    }
    out.push(part);
  }
  return out;
}

/**
 * `to` relative to the folder `from` (both relative to the server root),
 * e.g. `relativePath('a/b', 'a/c/x.py') === '../c/x.py'`.
 */
export function relativePath(from: string, to: string): string {
  const a = segments(from);
  const b = segments(to);
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) {
    common++;
  }
  const up = a.slice(common).map(() => '..');
  return [...up, ...b.slice(common)].join('/');
}

/** `relative` (relative to the folder `from`) as a path from the server root. */
export function resolvePath(from: string, relative: string): string {
  if (relative.startsWith('/')) {
    return segments(relative).join('/');
  }
  return segments(`${from}/${relative}`).join('/');
}

/** Whether `value` is a plain JSON object. */
export function isObject(value: unknown): value is IJSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy of JSON data. */
export function cloneJSON<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

/** Deep equality of JSON data (`undefined` members count as missing). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

function normalise(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(normalise);
  }
  if (isObject(value)) {
    const out: IJSONObject = {};
    for (const key of Object.keys(value).sort()) {
      if (value[key] !== undefined) {
        out[key] = normalise(value[key]);
      }
    }
    return out;
  }
  return value;
}

/** The primary pipeline of a document (the first one when the reference is dangling). */
export function primaryPipeline(doc: IPipelineDocument): IElyraPipeline {
  const pipelines = doc.pipelines;
  return (
    pipelines.find(p => p && p.id === doc.primary_pipeline) ?? pipelines[0]
  );
}

/** `obj[key]` as an object, created when missing or not an object. */
export function ensureObject(obj: IJSONObject, key: string): IJSONObject {
  if (!isObject(obj[key])) {
    obj[key] = {};
  }
  return obj[key];
}

/** `obj[key]` as an array, created when missing or not an array. */
export function ensureArray<T>(obj: IJSONObject, key: string): T[] {
  if (!Array.isArray(obj[key])) {
    obj[key] = [];
  }
  return obj[key];
}

/** The comments of a pipeline (created when missing). */
export function ensureComments(pipeline: IElyraPipeline): IElyraComment[] {
  const uiData = ensureObject(ensureObject(pipeline, 'app_data'), 'ui_data');
  return ensureArray<IElyraComment>(uiData, 'comments');
}

/** The comments of a pipeline, read only. */
export function readComments(pipeline: IElyraPipeline): IElyraComment[] {
  const comments = pipeline.app_data?.ui_data?.comments;
  return Array.isArray(comments)
    ? comments.filter(
        (c: unknown): c is IElyraComment =>
          isObject(c) && typeof c.id === 'string'
      )
    : [];
}

/**
 * Where a node keeps its properties: `component_parameters` (Elyra >= 7), or
 * `app_data` itself in older files.
 */
export function nodeParameters(node: IElyraNode): IJSONObject {
  const appData = isObject(node.app_data) ? node.app_data : {};
  if (isObject(appData.component_parameters)) {
    return appData.component_parameters;
  }
  if ('filename' in appData) {
    const legacy: IJSONObject = {};
    for (const [key, value] of Object.entries(appData)) {
      if (key !== 'ui_data' && key !== 'label' && key !== 'mlpipe') {
        legacy[key] = value;
      }
    }
    return legacy;
  }
  return {};
}

/** Whether a node keeps its properties in `app_data` (Elyra formats before 7). */
export function isLegacyNode(node: IElyraNode): boolean {
  const appData = isObject(node.app_data) ? node.app_data : {};
  return (
    !isObject(appData.component_parameters) &&
    typeof appData.filename === 'string'
  );
}

/** The file a node runs (relative to the pipeline file), or `''`. */
export function nodeFilename(node: IElyraNode): string {
  const value = nodeParameters(node).filename;
  return typeof value === 'string' ? value : '';
}

/** The label shown on the canvas, like Elyra: app_data.label, ui_data.label, the file name, the id. */
export function nodeLabel(node: IElyraNode): string {
  const appData = isObject(node.app_data) ? node.app_data : {};
  const uiData = isObject(appData.ui_data) ? appData.ui_data : {};
  for (const value of [appData.label, uiData.label]) {
    if (typeof value === 'string' && value.trim()) {
      return value.trim();
    }
  }
  const file = nodeFilename(node);
  return file ? basename(file) : node.id;
}

/** A node's position on the canvas. */
export function nodePosition(node: IElyraNode): { x: number; y: number } {
  const uiData = node.app_data?.ui_data;
  const x = Number(isObject(uiData) ? uiData.x_pos : 0);
  const y = Number(isObject(uiData) ? uiData.y_pos : 0);
  return { x: Number.isFinite(x) ? x : 0, y: Number.isFinite(y) ? y : 0 };
}

/** Set a node's position on the canvas. */
export function setNodePosition(
  node: IElyraNode,
  position: { x: number; y: number }
): void {
  const uiData = ensureObject(ensureObject(node, 'app_data'), 'ui_data');
  uiData.x_pos = Math.round(position.x);
  uiData.y_pos = Math.round(position.y);
}

/** A link of the primary pipeline, seen from the canvas. */
export interface ILink {
  /** The link id (stable: taken from the file, or derived when the file has none). */
  id: string;
  source: string;
  target: string;
}

/** The links into `node`, with their ids. */
export function nodeLinks(node: IElyraNode): ILink[] {
  const links: ILink[] = [];
  for (const port of Array.isArray(node.inputs) ? node.inputs : []) {
    if (!isObject(port) || !Array.isArray(port.links)) {
      continue;
    }
    for (const link of port.links) {
      if (isObject(link) && typeof link.node_id_ref === 'string') {
        links.push({
          id:
            typeof link.id === 'string' && link.id
              ? link.id
              : `${link.node_id_ref}->${node.id}`,
          source: link.node_id_ref,
          target: node.id
        });
      }
    }
  }
  return links;
}

/** The input port of a node that new links go into (created when missing). */
export function ensureInputPort(node: IElyraNode): IElyraPort {
  const inputs = ensureArray<IElyraPort>(node, 'inputs');
  let port = inputs.find(p => isObject(p) && p.id === IN_PORT) ?? inputs[0];
  if (!isObject(port)) {
    port = newPort(IN_PORT, 'Input Port');
    inputs.push(port);
  }
  return port;
}

function newPort(id: string, label: string): IElyraPort {
  return {
    id,
    app_data: {
      ui_data: { cardinality: { min: 0, max: -1 }, label }
    }
  };
}

/** What a new node needs. */
export interface INewNodeOptions {
  /** A palette op, or one a plugin registered (see `INodeTypeRegistry`). */
  op: PaletteOp | string;
  /** Relative to the pipeline file's folder; may be empty (a node to fill in). */
  filename: string;
  x: number;
  y: number;
  label?: string;
  id?: string;
}

/** A new generic node shaped like the ones Elyra's editor writes. */
export function createNode(options: INewNodeOptions): IElyraNode {
  const label = options.label ?? basename(options.filename);
  // a serve node has no file; its model and target are chosen in the properties
  const params: IJSONObject =
    options.op === SERVE_OP || (!options.filename && !isNodeOp(options.op))
      ? {}
      : { filename: options.filename };
  return {
    id: options.id ?? uuid(),
    type: 'execution_node',
    op: options.op,
    app_data: {
      component_parameters: params,
      label,
      ui_data: {
        label,
        x_pos: Math.round(options.x),
        y_pos: Math.round(options.y),
        description:
          options.op === SERVE_OP
            ? 'Serve an MLflow model'
            : isNodeOp(options.op)
              ? OP_DESCRIPTIONS[options.op]
              : label
      }
    },
    inputs: [newPort(IN_PORT, 'Input Port')],
    outputs: [newPort(OUT_PORT, 'Output Port')]
  };
}

/** Checks that parsed JSON looks like a pipeline document; returns a message or null. */
export function documentError(doc: unknown): IModelMessage | null {
  if (!isObject(doc)) {
    return message('The file does not contain a JSON object.');
  }
  if (!Array.isArray(doc.pipelines) || doc.pipelines.length === 0) {
    return message(
      'The file has no "pipelines" list, so it is not a pipeline.'
    );
  }
  const primary = primaryPipeline(doc as IPipelineDocument);
  if (!isObject(primary)) {
    return message('The primary pipeline is not an object.');
  }
  if (primary.nodes !== undefined && !Array.isArray(primary.nodes)) {
    return message('The "nodes" of the primary pipeline are not a list.');
  }
  return null;
}
