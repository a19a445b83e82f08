/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { MLPipeAPI } from '../tokens';
import {
  basename,
  cloneJSON,
  createNode,
  dirname,
  documentError,
  ensureArray,
  ensureComments,
  ensureInputPort,
  ensureObject,
  IElyraComment,
  IElyraLink,
  IElyraNode,
  IElyraPipeline,
  IJSONObject,
  ILink,
  INewNodeOptions,
  IPipelineDocument,
  isLegacyNode,
  isObject,
  jsonEqual,
  nodeFilename,
  nodeLabel,
  nodeLinks,
  nodeParameters,
  nodePosition,
  NodeOp,
  opForPath,
  primaryPipeline,
  readComments,
  relativePath,
  resolvePath,
  setNodePosition,
  uuid
} from './elyra';
import { cycleThrough } from './graph';
import {
  dropSubflows,
  findPipeline,
  groupIntoSupernode,
  isBinding,
  isExpanded,
  isSupernode,
  outputPortId,
  subflow,
  subflowsOf,
  ungroupSupernode
} from './supernode';
import {
  IModelMessage,
  isModelMessage,
  message,
  plural,
  renderMessage,
  verbatim
} from './messages';

/** Why the document changed. */
export type ChangeKind = 'load' | 'edit' | 'undo' | 'redo';

/** Argument of `contentChanged`. */
export interface IContentChange {
  kind: ChangeKind;
  /** What the edit did (for edits, undo and redo), in English, e.g. "Move 2 items". */
  label?: string;
  /** The same, to render through a translation bundle. */
  message?: IModelMessage;
}

/** Outcome of a request to connect two nodes. */
export type ConnectResult =
  | { ok: true; linkId: string }
  | {
      ok: false;
      reason: 'self' | 'cycle' | 'duplicate' | 'missing';
      /** Plain-language explanation for the user (render it with `renderMessage`). */
      message: IModelMessage;
      /** The node ids along the cycle the link would close. */
      cycle?: string[];
    };

/** Nodes and comments cut or copied from a pipeline. */
export interface IClipboardFragment {
  /** Marks the payload (also when it travels as text). */
  kind: 'mlpipe-lab/fragment';
  /** The folder of the pipeline the fragment comes from (for relative file names). */
  folder: string;
  nodes: IElyraNode[];
  comments: IElyraComment[];
  /** The pipelines the fragment's supernodes hold (recursively). */
  pipelines?: IElyraPipeline[];
}

/** One level of the supernodes the editor is inside. */
export interface IScopeLevel {
  /** The supernode (in the level above). */
  supernode: string;
  /** The pipeline it holds (the one edited at this level). */
  pipeline: string;
  label: string;
}

/** What a node form edits: the node's label, description, properties and extras. */
export interface INodeData {
  label?: string;
  description?: string;
  component_parameters?: IJSONObject;
  mlpipe?: IJSONObject;
}

/** What the pipeline form edits. */
export interface IPipelineData {
  properties?: IJSONObject;
  mlpipe?: IJSONObject;
}

/** Options of an edit. */
export interface IEditOptions {
  /**
   * Consecutive edits with the same key, each within `mergeWindow` ms of the
   * previous one, are undone together (typing in a field, nudging a node).
   */
  mergeKey?: string;
}

interface IHistoryEntry {
  label: IModelMessage;
  snapshot: string;
  mergeKey?: string;
  time: number;
}

/**
 * The state of one pipeline editor, free of any UI: the Elyra document (kept as
 * parsed and patched in place, so unknown keys survive), the selection, the
 * undo/redo history covering every edit, and the problems the server reported.
 */
export class PipelineEditorModel implements IDisposable {
  constructor(options: PipelineEditorModel.IOptions = {}) {
    this._maxHistory = options.maxHistory ?? 200;
    this._mergeWindow = options.mergeWindow ?? 1500;
    this._now = options.now ?? (() => Date.now());
    this._path = options.path ?? '';
    this._opForPath = options.opForPath ?? opForPath;
  }

  /** Emitted after every change of the document (load, edit, undo, redo). */
  get contentChanged(): ISignal<this, IContentChange> {
    return this._contentChanged;
  }

  /** Emitted when the selection changes. */
  get selectionChanged(): ISignal<this, ReadonlySet<string>> {
    return this._selectionChanged;
  }

  /** Emitted when the server's problems are replaced. */
  get problemsChanged(): ISignal<this, readonly MLPipeAPI.IProblem[]> {
    return this._problemsChanged;
  }

  /** Emitted when the editor goes into or out of a supernode. */
  get scopeChanged(): ISignal<this, readonly IScopeLevel[]> {
    return this._scopeChanged;
  }

  /** Emitted for short messages to the user (e.g. why a link was refused). */
  get notice(): ISignal<this, IModelMessage> {
    return this._notice;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /** Path of the pipeline file from the server root; node files are relative to its folder. */
  get path(): string {
    return this._path;
  }
  set path(value: string) {
    this._path = value;
  }

  /** The folder of the pipeline file. */
  get folder(): string {
    return dirname(this._path);
  }

  /** Why the last loaded text is not an editable pipeline (English), or null. */
  get error(): string | null {
    return this._error ? renderMessage(this._error) : null;
  }

  /** The same, to render through a translation bundle. */
  get errorMessage(): IModelMessage | null {
    return this._error;
  }

  /** Incremented by every change of the document. */
  get version(): number {
    return this._version;
  }

  /** The document (do not mutate it: use the edit methods). */
  get document(): IPipelineDocument | null {
    return this._doc;
  }

  /** Load the text of a `.pipeline` file; clears history and selection. */
  fromString(text: string): boolean {
    let doc: unknown;
    let error: IModelMessage | null = null;
    try {
      doc = text.trim() ? JSON.parse(text) : null;
      error = doc === null ? message('The file is empty.') : documentError(doc);
    } catch (reason) {
      error = message(
        'The file is not valid JSON: %1',
        (reason as Error).message
      );
    }
    this._doc = error ? null : (doc as IPipelineDocument);
    this._error = error;
    this._undo = [];
    this._redo = [];
    this._setSelection(new Set());
    this._setScope([]);
    this._changed({ kind: 'load' });
    return !error;
  }

  /** The document as the text of its file (2-space indent, newline-terminated, like Elyra). */
  toString(): string {
    return this._doc ? JSON.stringify(this._doc, null, 2) + '\n' : '';
  }

  // -- reading ------------------------------------------------------------

  /**
   * The pipeline on the canvas: the primary pipeline, or the one of the
   * supernode the editor is inside (see `openSupernode`). Node, link and
   * comment edits apply to it.
   */
  get pipeline(): IElyraPipeline | null {
    if (!this._doc) {
      return null;
    }
    const level = this._scope[this._scope.length - 1];
    return (
      (level && findPipeline(this._doc, level.pipeline)) ||
      primaryPipeline(this._doc)
    );
  }

  /** The primary pipeline (its properties are the pipeline's). */
  get primary(): IElyraPipeline | null {
    return this._doc ? primaryPipeline(this._doc) : null;
  }

  /** The supernodes the editor is inside, outermost first (empty: the primary pipeline). */
  get scope(): readonly IScopeLevel[] {
    return this._scope;
  }

  /** Show and edit the pipeline a supernode of the current pipeline holds. */
  openSupernode(id: string): boolean {
    const node = this.node(id);
    const sub = node && this._doc ? subflow(this._doc, node) : undefined;
    if (!node || !isSupernode(node) || !sub) {
      return false;
    }
    this._setSelection(new Set());
    this._setScope([
      ...this._scope,
      { supernode: id, pipeline: sub.id, label: nodeLabel(node) }
    ]);
    return true;
  }

  /** Go back out to `depth` supernodes deep (0: the primary pipeline). */
  closeSupernode(depth = this._scope.length - 1): boolean {
    if (depth < 0 || depth >= this._scope.length) {
      return false;
    }
    const left = this._scope[depth].supernode;
    this._setScope(this._scope.slice(0, depth));
    this._setSelection(new Set(this.node(left) ? [left] : []));
    return true;
  }

  /** The nodes inside a supernode of the current pipeline (no bindings). */
  supernodeNodes(id: string): IElyraNode[] {
    const node = this.node(id);
    const sub = node && this._doc ? subflow(this._doc, node) : undefined;
    return Array.isArray(sub?.nodes)
      ? sub!.nodes.filter(n => isObject(n) && !isBinding(n))
      : [];
  }

  /** Nodes of the primary pipeline. */
  get nodes(): readonly IElyraNode[] {
    const nodes = this.pipeline?.nodes;
    return Array.isArray(nodes) ? nodes.filter(isObject) : [];
  }

  /** The node with this id. */
  node(id: string): IElyraNode | undefined {
    return this.nodes.find(n => n.id === id);
  }

  /** Every link between nodes of the primary pipeline. */
  get links(): ILink[] {
    return this.nodes.flatMap(nodeLinks);
  }

  /** Canvas comments of the primary pipeline. */
  get comments(): readonly IElyraComment[] {
    const pipeline = this.pipeline;
    return pipeline ? readComments(pipeline) : [];
  }

  /** Whether the pipeline has neither nodes nor comments. */
  get isEmpty(): boolean {
    return this.nodes.length === 0 && this.comments.length === 0;
  }

  /** What the node form shows for a node. */
  nodeData(id: string): INodeData | null {
    const node = this.node(id);
    if (!node) {
      return null;
    }
    const appData = isObject(node.app_data) ? node.app_data : {};
    const description = appData.ui_data?.description;
    return {
      label: nodeLabel(node),
      description: typeof description === 'string' ? description : undefined,
      component_parameters: cloneJSON(nodeParameters(node)),
      mlpipe: isObject(appData.mlpipe) ? cloneJSON(appData.mlpipe) : {}
    };
  }

  /** What the pipeline form shows. */
  pipelineData(): IPipelineData {
    const appData = this.primary?.app_data ?? {};
    return {
      properties: isObject(appData.properties)
        ? cloneJSON(appData.properties)
        : {},
      mlpipe: isObject(appData.mlpipe) ? cloneJSON(appData.mlpipe) : {}
    };
  }

  /** The pipeline file's name from its properties (or the file name). */
  get name(): string {
    const name = this.primary?.app_data?.properties?.name;
    if (typeof name === 'string' && name) {
      return name;
    }
    return basename(this._path).replace(/\.pipeline$/i, '');
  }

  // -- selection ----------------------------------------------------------

  /** Ids of the selected nodes, comments and links. */
  get selection(): ReadonlySet<string> {
    return this._selection;
  }

  /** The only selected node, if exactly one node is selected. */
  get selectedNode(): IElyraNode | null {
    const nodes = this.nodes.filter(n => this._selection.has(n.id));
    return nodes.length === 1 ? nodes[0] : null;
  }

  /** Replace the selection (or add to it). */
  select(ids: Iterable<string>, additive = false): void {
    const next = new Set(additive ? this._selection : []);
    for (const id of ids) {
      next.add(id);
    }
    this._setSelection(next);
  }

  /** Select every node and comment. */
  selectAll(): void {
    this._setSelection(
      new Set([...this.nodes.map(n => n.id), ...this.comments.map(c => c.id)])
    );
  }

  // -- problems -----------------------------------------------------------

  /** The problems the server last reported for this pipeline. */
  get problems(): readonly MLPipeAPI.IProblem[] {
    return this._problems;
  }

  /** Replace the problems (from validation, export or submit). */
  setProblems(problems: readonly MLPipeAPI.IProblem[]): void {
    if (jsonEqual(problems, this._problems)) {
      return;
    }
    this._problems = [...problems];
    this._problemsChanged.emit(this._problems);
  }

  /** The problems of one node. */
  nodeProblems(id: string): MLPipeAPI.IProblem[] {
    return this._problems.filter(p => p.node_id === id);
  }

  // -- history ------------------------------------------------------------

  get canUndo(): boolean {
    return this._undo.length > 0;
  }

  get canRedo(): boolean {
    return this._redo.length > 0;
  }

  /** What undo would undo (English), e.g. "Add node". */
  get undoLabel(): string | null {
    const message = this.undoMessage;
    return message ? renderMessage(message) : null;
  }

  /** What redo would redo (English). */
  get redoLabel(): string | null {
    const message = this.redoMessage;
    return message ? renderMessage(message) : null;
  }

  /** What undo would undo, to render through a translation bundle. */
  get undoMessage(): IModelMessage | null {
    return this._undo.length ? this._undo[this._undo.length - 1].label : null;
  }

  /** What redo would redo, to render through a translation bundle. */
  get redoMessage(): IModelMessage | null {
    return this._redo.length ? this._redo[this._redo.length - 1].label : null;
  }

  /** Undo the last edit. */
  undo(): boolean {
    const entry = this._undo.pop();
    if (!entry || !this._doc) {
      return false;
    }
    this._redo.push({ ...entry, snapshot: this._snapshot(), time: 0 });
    this._restore(entry.snapshot);
    this._changed({ kind: 'undo', ...describe(entry.label) });
    return true;
  }

  /** Redo the last undone edit. */
  redo(): boolean {
    const entry = this._redo.pop();
    if (!entry || !this._doc) {
      return false;
    }
    this._undo.push({ ...entry, snapshot: this._snapshot(), time: 0 });
    this._restore(entry.snapshot);
    this._changed({ kind: 'redo', ...describe(entry.label) });
    return true;
  }

  /** Start a new undo step even if the next edit has the same merge key. */
  breakMerge(): void {
    const last = this._undo[this._undo.length - 1];
    if (last) {
      last.mergeKey = undefined;
    }
  }

  // -- edits --------------------------------------------------------------

  /** Add a node; returns its id. */
  addNode(options: INewNodeOptions): string {
    const node = createNode(options);
    const added = this.edit(message('Add node'), pipeline => {
      ensureArray<IElyraNode>(pipeline, 'nodes').push(node);
    });
    if (!added) {
      return '';
    }
    this._setSelection(new Set([node.id]));
    return node.id;
  }

  /**
   * Add one node per supported file (paths from the server root), the first at
   * `at` and the next ones below it; returns the new ids (files no node type runs are skipped).
   */
  addFiles(
    paths: readonly string[],
    at: { x: number; y: number },
    step = { x: 0, y: 100 }
  ): string[] {
    const nodes: IElyraNode[] = [];
    for (const path of paths) {
      const op = this._opForPath(path);
      if (!op) {
        continue;
      }
      const i = nodes.length;
      nodes.push(
        createNode({
          op,
          filename: relativePath(this.folder, path),
          x: at.x + step.x * i,
          y: at.y + step.y * i
        })
      );
    }
    if (!nodes.length || !this._doc) {
      return [];
    }
    this.edit(plural('Add node', 'Add %1 nodes', nodes.length), p => {
      ensureArray<IElyraNode>(p, 'nodes').push(...nodes);
    });
    const ids = nodes.map(n => n.id);
    this._setSelection(new Set(ids));
    return ids;
  }

  /** The nodes that run the file at `path` (from the server root). */
  nodesOfFile(path: string): IElyraNode[] {
    const target = resolvePath('', path);
    return this.nodes.filter(node => {
      const file = nodeFilename(node);
      return !!file && resolvePath(this.folder, file) === target;
    });
  }

  /** Whether `source -> target` may be added, and why not. */
  canConnect(source: string, target: string): ConnectResult {
    const from = this.node(source);
    const to = this.node(target);
    if (!from || !to) {
      return {
        ok: false,
        reason: 'missing',
        message: message('Both ends of a link must be nodes of this pipeline.')
      };
    }
    if (source === target) {
      return {
        ok: false,
        reason: 'self',
        message: message(
          "A node cannot depend on itself ('%1').",
          nodeLabel(from)
        )
      };
    }
    const links = this.links;
    if (links.some(l => l.source === source && l.target === target)) {
      return {
        ok: false,
        reason: 'duplicate',
        message: message(
          "'%1' is already connected to '%2'.",
          nodeLabel(from),
          nodeLabel(to)
        )
      };
    }
    const cycle = cycleThrough(links, source, target);
    if (cycle) {
      const names = cycle.map(id => {
        const node = this.node(id);
        return node ? nodeLabel(node) : id;
      });
      return {
        ok: false,
        reason: 'cycle',
        message: message(
          "Connecting '%1' to '%2' would create a cycle (%3); a pipeline must not loop back on itself.",
          nodeLabel(from),
          nodeLabel(to),
          names.join(' → ')
        ),
        cycle
      };
    }
    return { ok: true, linkId: '' };
  }

  /**
   * Link the output of `source` to the input of `target` (stored on the target,
   * like Elyra). Refuses cycles, self links and duplicates, and says why via `notice`.
   */
  connect(source: string, target: string): ConnectResult {
    const check = this.canConnect(source, target);
    if (!check.ok) {
      this._notice.emit(check.message);
      return check;
    }
    const linkId = uuid();
    this.edit(message('Connect nodes'), () => {
      const port = ensureInputPort(this.node(target)!);
      ensureArray<IElyraLink>(port, 'links').push({
        id: linkId,
        node_id_ref: source,
        port_id_ref: outputPortId(this.node(source)!)
      });
    });
    return { ok: true, linkId };
  }

  /**
   * Delete nodes, comments and links by id (links of deleted nodes and comment
   * references to them go too); returns how many items were deleted.
   */
  removeItems(ids: Iterable<string>): number {
    const doomed = new Set(ids);
    if (!doomed.size || !this._doc) {
      return 0;
    }
    const nodeIds = new Set(
      this.nodes.filter(n => doomed.has(n.id)).map(n => n.id)
    );
    const commentIds = new Set(
      this.comments.filter(c => doomed.has(c.id)).map(c => c.id)
    );
    const linkIds = new Set(
      this.links
        .filter(
          l =>
            doomed.has(l.id) || nodeIds.has(l.source) || nodeIds.has(l.target)
        )
        .map(l => l.id)
    );
    const explicitLinks = [...linkIds].filter(id => doomed.has(id)).length;
    const count = nodeIds.size + commentIds.size + explicitLinks;
    if (count === 0) {
      return 0;
    }
    const what =
      nodeIds.size && !commentIds.size && !explicitLinks
        ? plural('Delete node', 'Delete %1 nodes', nodeIds.size)
        : !nodeIds.size && !commentIds.size
          ? plural('Delete link', 'Delete %1 links', explicitLinks)
          : plural('Delete item', 'Delete %1 items', count);
    this.edit(what, pipeline => {
      const removed = pipeline.nodes.filter(
        n => isObject(n) && nodeIds.has(n.id)
      );
      pipeline.nodes = pipeline.nodes.filter(
        n => !(isObject(n) && nodeIds.has(n.id))
      );
      dropSubflows(this._doc!, removed);
      for (const node of this.nodes) {
        this._dropLinks(node, linkIds, nodeIds);
      }
      if (commentIds.size || nodeIds.size) {
        const comments = pipeline.app_data?.ui_data?.comments;
        if (Array.isArray(comments)) {
          pipeline.app_data!.ui_data.comments = comments.filter(
            (c: IElyraComment) => !(isObject(c) && commentIds.has(c.id))
          );
          for (const comment of pipeline.app_data!.ui_data.comments) {
            if (
              isObject(comment) &&
              Array.isArray(comment.associated_id_refs)
            ) {
              comment.associated_id_refs = comment.associated_id_refs.filter(
                (r: { node_ref: string }) => !nodeIds.has(r?.node_ref)
              );
            }
          }
        }
      }
    });
    const left = new Set(
      [...this._selection].filter(
        id => !nodeIds.has(id) && !commentIds.has(id) && !linkIds.has(id)
      )
    );
    this._setSelection(left);
    return count;
  }

  /** Remove the links with the given ids, and those touching removed nodes, from a node. */
  private _dropLinks(
    node: IElyraNode,
    linkIds: Set<string>,
    nodeIds: Set<string>
  ): void {
    for (const port of Array.isArray(node.inputs) ? node.inputs : []) {
      if (!isObject(port) || !Array.isArray(port.links)) {
        continue;
      }
      port.links = port.links.filter((link: IElyraLink) => {
        if (!isObject(link)) {
          return true;
        }
        const id =
          typeof link.id === 'string' && link.id
            ? link.id
            : `${link.node_id_ref}->${node.id}`;
        return !linkIds.has(id) && !nodeIds.has(link.node_id_ref);
      });
    }
  }

  /** Delete the selection. */
  removeSelection(): number {
    return this.removeItems(this._selection);
  }

  /** Move nodes and comments to new positions (one undo step). */
  moveItems(
    positions: { [id: string]: { x: number; y: number } },
    options: IEditOptions & { label?: string | IModelMessage } = {}
  ): boolean {
    const ids = Object.keys(positions);
    const count = ids.length;
    return this.edit(
      options.label ?? plural('Move item', 'Move %1 items', count),
      () => {
        let moved = false;
        for (const node of this.nodes) {
          const to = positions[node.id];
          if (to) {
            const from = nodePosition(node);
            if (Math.round(to.x) !== from.x || Math.round(to.y) !== from.y) {
              setNodePosition(node, to);
              moved = true;
            }
          }
        }
        for (const comment of this.comments) {
          const to = positions[comment.id];
          if (
            to &&
            (Math.round(to.x) !== comment.x_pos ||
              Math.round(to.y) !== comment.y_pos)
          ) {
            comment.x_pos = Math.round(to.x);
            comment.y_pos = Math.round(to.y);
            moved = true;
          }
        }
        return moved;
      },
      options
    );
  }

  /**
   * Change a node's label, description, properties (`component_parameters`)
   * or extras (`mlpipe`). Objects are merged key by key: a key set to
   * `undefined` is removed, keys not mentioned are kept.
   */
  setNodeData(
    id: string,
    data: INodeData,
    options: IEditOptions = {}
  ): boolean {
    const node = this.node(id);
    if (!node) {
      return false;
    }
    return this.edit(
      message('Edit node properties'),
      () => {
        const before = JSON.stringify(node);
        const appData = ensureObject(node, 'app_data');
        if ('label' in data) {
          const label = (data.label ?? '').trim();
          const uiData = ensureObject(appData, 'ui_data');
          appData.label = label;
          uiData.label = label || basename(nodeFilename(node)) || node.id;
        }
        if ('description' in data) {
          const uiData = ensureObject(appData, 'ui_data');
          if (data.description === undefined) {
            delete uiData.description;
          } else {
            uiData.description = data.description;
          }
        }
        if (data.component_parameters) {
          const target = isLegacyNode(node)
            ? appData
            : ensureObject(appData, 'component_parameters');
          mergeInto(target, data.component_parameters);
        }
        if (data.mlpipe) {
          const had = isObject(appData.mlpipe);
          const target = ensureObject(appData, 'mlpipe');
          mergeInto(target, data.mlpipe);
          if (!had && Object.keys(target).length === 0) {
            delete appData.mlpipe;
          }
        }
        return JSON.stringify(node) !== before;
      },
      { mergeKey: options.mergeKey ?? `node:${id}` }
    );
  }

  /** Change the pipeline's properties (incl. defaults) and extras, merged like `setNodeData`. */
  setPipelineData(data: IPipelineData, options: IEditOptions = {}): boolean {
    return this.edit(
      message('Edit pipeline properties'),
      () => {
        const appData = ensureObject(this.primary!, 'app_data');
        const before = JSON.stringify(appData);
        if (data.properties) {
          mergeInto(ensureObject(appData, 'properties'), data.properties);
        }
        if (data.mlpipe) {
          const had = isObject(appData.mlpipe);
          const target = ensureObject(appData, 'mlpipe');
          mergeInto(target, data.mlpipe);
          if (!had && Object.keys(target).length === 0) {
            delete appData.mlpipe;
          }
        }
        return JSON.stringify(appData) !== before;
      },
      { mergeKey: options.mergeKey ?? 'pipeline' }
    );
  }

  /** Add a comment; it refers to `nodeRefs` (drawn as dashed links). Returns its id. */
  addComment(options: {
    x: number;
    y: number;
    content?: string;
    width?: number;
    height?: number;
    nodeRefs?: string[];
  }): string {
    const id = uuid();
    this.edit(message('Add comment'), pipeline => {
      ensureComments(pipeline).push({
        id,
        x_pos: Math.round(options.x),
        y_pos: Math.round(options.y),
        width: options.width ?? 175,
        height: options.height ?? 60,
        content: options.content ?? '',
        associated_id_refs: (options.nodeRefs ?? [])
          .filter(ref => this.node(ref))
          .map(ref => ({ id: uuid(), node_ref: ref }))
      });
    });
    this._setSelection(new Set([id]));
    return id;
  }

  /** Change a comment's text, size or position. */
  updateComment(
    id: string,
    patch: {
      content?: string;
      width?: number;
      height?: number;
      x?: number;
      y?: number;
    },
    options: IEditOptions = {}
  ): boolean {
    const comment = this.comments.find(c => c.id === id);
    if (!comment) {
      return false;
    }
    const keys: [keyof typeof patch, string][] = [
      ['content', 'content'],
      ['width', 'width'],
      ['height', 'height'],
      ['x', 'x_pos'],
      ['y', 'y_pos']
    ];
    return this.edit(
      patch.content !== undefined
        ? message('Edit comment')
        : message('Resize comment'),
      () => {
        let changed = false;
        for (const [key, field] of keys) {
          const raw = patch[key];
          if (raw === undefined) {
            continue;
          }
          const value = key === 'content' ? raw : Math.round(raw as number);
          if ((comment as IJSONObject)[field] !== value) {
            (comment as IJSONObject)[field] = value;
            changed = true;
          }
        }
        return changed;
      },
      { mergeKey: options.mergeKey ?? `comment:${id}` }
    );
  }

  /** Remove every node, link and comment (one undo step). */
  clear(): boolean {
    if (this.isEmpty) {
      return false;
    }
    const changed = this.edit(message('Clear pipeline'), pipeline => {
      const removed = pipeline.nodes.filter(isObject);
      pipeline.nodes = [];
      dropSubflows(this._doc!, removed);
      const uiData = pipeline.app_data?.ui_data;
      if (isObject(uiData) && Array.isArray(uiData.comments)) {
        uiData.comments = [];
      }
    });
    this._setSelection(new Set());
    return changed;
  }

  /** Copy nodes and comments (by id); links between copied nodes come along. */
  copy(ids: Iterable<string> = this._selection): IClipboardFragment {
    const wanted = new Set(ids);
    const nodes = this.nodes.filter(n => wanted.has(n.id) && !isBinding(n));
    const pipelines = this._doc ? subflowsOf(this._doc, nodes) : [];
    return {
      kind: 'mlpipe-lab/fragment',
      folder: this.folder,
      nodes: cloneJSON(nodes),
      comments: cloneJSON(this.comments.filter(c => wanted.has(c.id))),
      ...(pipelines.length ? { pipelines: cloneJSON(pipelines) } : {})
    };
  }

  /**
   * Paste a fragment with fresh ids, shifted by `offset`; links to nodes outside
   * the fragment are dropped and file names re-based on this pipeline's folder.
   * Selects and returns the new ids.
   */
  paste(
    fragment: IClipboardFragment,
    offset: { x: number; y: number } = { x: 40, y: 40 }
  ): string[] {
    if (!fragment.nodes.length && !fragment.comments.length) {
      return [];
    }
    const ids = new Map<string, string>();
    for (const item of [...fragment.nodes, ...fragment.comments]) {
      ids.set(item.id, uuid());
    }
    const nodes = cloneJSON(fragment.nodes).map(node => {
      node.id = ids.get(node.id)!;
      const position = nodePosition(node);
      setNodePosition(node, {
        x: position.x + offset.x,
        y: position.y + offset.y
      });
      if (fragment.folder !== this.folder) {
        const params = isLegacyNode(node)
          ? node.app_data!
          : node.app_data?.component_parameters;
        if (isObject(params) && typeof params.filename === 'string') {
          params.filename = relativePath(
            this.folder,
            resolvePath(fragment.folder, params.filename)
          );
        }
      }
      for (const port of Array.isArray(node.inputs) ? node.inputs : []) {
        if (isObject(port) && Array.isArray(port.links)) {
          port.links = port.links
            .filter((l: IElyraLink) => isObject(l) && ids.has(l.node_id_ref))
            .map((l: IElyraLink) => ({
              ...l,
              id: uuid(),
              node_id_ref: ids.get(l.node_id_ref)!
            }));
        }
      }
      return node;
    });
    const comments = cloneJSON(fragment.comments).map(comment => {
      comment.id = ids.get(comment.id)!;
      comment.x_pos = Math.round((comment.x_pos ?? 0) + offset.x);
      comment.y_pos = Math.round((comment.y_pos ?? 0) + offset.y);
      if (Array.isArray(comment.associated_id_refs)) {
        comment.associated_id_refs = comment.associated_id_refs
          .filter(r => isObject(r) && ids.has(r.node_ref))
          .map(r => ({ ...r, id: uuid(), node_ref: ids.get(r.node_ref)! }));
      }
      return comment;
    });
    const pipelines = freshPipelines(fragment.pipelines ?? []);
    for (const node of nodes) {
      const ref = node.subflow_ref;
      if (isObject(ref) && pipelines.ids.has(ref.pipeline_id_ref)) {
        ref.pipeline_id_ref = pipelines.ids.get(ref.pipeline_id_ref);
      } else if (isSupernode(node)) {
        // a supernode without its pipeline cannot be pasted as one
        node.subflow_ref = { pipeline_id_ref: '' };
      }
      if (isSupernode(node)) {
        // its links into the group keep their binding ports
        for (const port of Array.isArray(node.inputs) ? node.inputs : []) {
          if (isObject(port) && typeof port.subflow_node_ref === 'string') {
            port.subflow_node_ref =
              pipelines.nodeIds.get(port.subflow_node_ref) ??
              port.subflow_node_ref;
          }
        }
        for (const port of Array.isArray(node.outputs) ? node.outputs : []) {
          if (isObject(port) && typeof port.subflow_node_ref === 'string') {
            port.subflow_node_ref =
              pipelines.nodeIds.get(port.subflow_node_ref) ??
              port.subflow_node_ref;
          }
        }
      }
    }
    const count = nodes.length + comments.length;
    this.edit(plural('Paste item', 'Paste %1 items', count), p => {
      if (pipelines.list.length) {
        this._doc!.pipelines.push(...pipelines.list);
      }
      ensureArray<IElyraNode>(p, 'nodes').push(...nodes);
      if (comments.length) {
        ensureComments(p).push(...comments);
      }
    });
    const pasted = [...ids.values()];
    this._setSelection(new Set(pasted));
    return pasted;
  }

  /**
   * Move nodes of the current pipeline into a new supernode (Elyra's
   * pipeline-flow v3: a sub-pipeline with binding nodes); selects it and
   * returns its id ('' when no node was given).
   */
  groupIntoSupernode(ids: Iterable<string> = this._selection): string {
    const wanted = new Set(ids);
    const count = this.nodes.filter(
      n => wanted.has(n.id) && !isBinding(n)
    ).length;
    if (!count || !this._doc) {
      return '';
    }
    let id = '';
    this.edit(message('Group into supernode'), pipeline => {
      const grouped = groupIntoSupernode(this._doc!, pipeline, wanted);
      id = grouped?.supernode.id ?? '';
      return !!grouped;
    });
    if (id) {
      this._setSelection(new Set([id]));
    }
    return id;
  }

  /** Put a supernode's nodes back into the current pipeline; selects them. */
  ungroupSupernode(id: string): string[] {
    let ids: string[] | null = null;
    if (!isSupernode(this.node(id)) || !this._doc) {
      return [];
    }
    this.edit(message('Ungroup supernode'), pipeline => {
      ids = ungroupSupernode(this._doc!, pipeline, id);
      return !!ids;
    });
    const moved: string[] = ids ?? [];
    this._setSelection(new Set(moved));
    return moved;
  }

  /** Show a supernode expanded (its nodes inside) or collapsed (Elyra's `is_expanded`). */
  setSupernodeExpanded(id: string, expanded: boolean): boolean {
    const node = this.node(id);
    if (!node || !isSupernode(node) || isExpanded(node) === expanded) {
      return false;
    }
    return this.edit(
      expanded ? message('Expand supernode') : message('Collapse supernode'),
      () => {
        ensureObject(ensureObject(node, 'app_data'), 'ui_data').is_expanded =
          expanded;
      }
    );
  }

  /**
   * Show a short message to the user (through `notice`): a model message, or
   * text the caller already translated.
   */
  announce(text: string | IModelMessage): void {
    this._notice.emit(isModelMessage(text) ? text : verbatim(text));
  }

  /** Change the node type of a node (e.g. after its file was renamed). */
  setNodeOp(id: string, op: NodeOp): boolean {
    const node = this.node(id);
    if (!node || node.op === op) {
      return false;
    }
    return this.edit(message('Change node type'), () => {
      node.op = op;
    });
  }

  /**
   * Apply `mutate` to the primary pipeline as one undoable edit. `mutate` may
   * return `false` to say nothing changed (no history entry, no signal).
   */
  edit(
    label: string | IModelMessage,
    mutate: (pipeline: IElyraPipeline) => boolean | void,
    options: IEditOptions = {}
  ): boolean {
    const pipeline = this.pipeline;
    if (!this._doc || !pipeline) {
      return false;
    }
    const snapshot = this._snapshot();
    const result = mutate(pipeline);
    if (result === false) {
      return false;
    }
    if (result === undefined && this._snapshot() === snapshot) {
      return false;
    }
    const now = this._now();
    const last = this._undo[this._undo.length - 1];
    const merge =
      options.mergeKey !== undefined &&
      last !== undefined &&
      last.mergeKey === options.mergeKey &&
      now - last.time <= this._mergeWindow;
    if (merge) {
      last.time = now;
    } else {
      this._undo.push({
        label: isModelMessage(label) ? label : verbatim(label),
        snapshot,
        mergeKey: options.mergeKey,
        time: now
      });
      if (this._undo.length > this._maxHistory) {
        this._undo.shift();
      }
    }
    this._redo = [];
    this._changed({
      kind: 'edit',
      ...describe(isModelMessage(label) ? label : verbatim(label))
    });
    return true;
  }

  private _snapshot(): string {
    return JSON.stringify(this._doc);
  }

  private _restore(snapshot: string): void {
    this._doc = JSON.parse(snapshot);
    const doc = this._doc!;
    const valid = this._scope.findIndex(
      level => !findPipeline(doc, level.pipeline)
    );
    if (valid >= 0) {
      this._setScope(this._scope.slice(0, valid));
    }
    const known = new Set([
      ...this.nodes.map(n => n.id),
      ...this.comments.map(c => c.id),
      ...this.links.map(l => l.id)
    ]);
    const kept = [...this._selection].filter(id => known.has(id));
    if (kept.length !== this._selection.size) {
      this._setSelection(new Set(kept));
    }
  }

  private _changed(change: IContentChange): void {
    this._version++;
    this._contentChanged.emit(change);
  }

  private _setScope(next: IScopeLevel[]): void {
    if (!next.length && !this._scope.length) {
      return;
    }
    this._scope = next;
    this._scopeChanged.emit(next);
  }

  private _setSelection(next: Set<string>): void {
    if (
      next.size === this._selection.size &&
      [...next].every(id => this._selection.has(id))
    ) {
      return;
    }
    this._selection = next;
    this.breakMerge();
    this._selectionChanged.emit(next);
  }

  private _doc: IPipelineDocument | null = null;
  private _error: IModelMessage | null = message('No pipeline loaded yet.');
  private _path: string;
  private _opForPath: (path: string) => string | null;
  private _version = 0;
  private _selection: Set<string> = new Set();
  private _scope: IScopeLevel[] = [];
  private _scopeChanged = new Signal<this, readonly IScopeLevel[]>(this);
  private _problems: MLPipeAPI.IProblem[] = [];
  private _undo: IHistoryEntry[] = [];
  private _redo: IHistoryEntry[] = [];
  private _maxHistory: number;
  private _mergeWindow: number;
  private _now: () => number;
  private _isDisposed = false;
  private _contentChanged = new Signal<this, IContentChange>(this);
  private _selectionChanged = new Signal<this, ReadonlySet<string>>(this);
  private _problemsChanged = new Signal<this, readonly MLPipeAPI.IProblem[]>(
    this
  );
  private _notice = new Signal<this, IModelMessage>(this);
}

/** Options of the editor model. */
export namespace PipelineEditorModel {
  export interface IOptions {
    /** Pipeline file path from the server root. */
    path?: string;
    /** How many undo steps are kept (default 200). */
    maxHistory?: number;
    /** Window in ms within which edits with the same merge key form one undo step. */
    mergeWindow?: number;
    /** Clock (for tests). */
    now?: () => number;
    /**
     * The node type (`op`) a file becomes, or null when none runs it
     * (default: the notebook, Python and R nodes; the editor passes the node type registry's).
     */
    opForPath?: (path: string) => string | null;
  }
}

/**
 * Merge `patch` into `target`: nested plain objects are merged, anything else
 * replaces the old value, and `undefined` removes the key.
 */
export function mergeInto(target: IJSONObject, patch: IJSONObject): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) {
      delete target[key];
    } else if (isObject(value) && isObject(target[key])) {
      mergeInto(target[key], value);
    } else {
      target[key] = cloneJSON(value);
    }
  }
}

/** The label of a change: English, and the message to translate. */
function describe(label: IModelMessage): {
  label: string;
  message: IModelMessage;
} {
  return { label: renderMessage(label), message: label };
}

/**
 * Copies of pipelines with fresh pipeline and node ids (links, bindings and
 * nested supernodes follow), for pasting supernodes.
 */
function freshPipelines(source: readonly IElyraPipeline[]): {
  list: IElyraPipeline[];
  ids: Map<string, string>;
  nodeIds: Map<string, string>;
} {
  const ids = new Map<string, string>();
  const nodeIds = new Map<string, string>();
  for (const pipeline of source) {
    if (isObject(pipeline)) {
      ids.set(pipeline.id, uuid());
      for (const node of Array.isArray(pipeline.nodes) ? pipeline.nodes : []) {
        if (isObject(node)) {
          nodeIds.set(node.id, uuid());
        }
      }
    }
  }
  const list = cloneJSON(source.filter(isObject)).map(pipeline => {
    pipeline.id = ids.get(pipeline.id)!;
    for (const node of Array.isArray(pipeline.nodes) ? pipeline.nodes : []) {
      if (!isObject(node)) {
        continue;
      }
      node.id = nodeIds.get(node.id) ?? node.id;
      const ref = node.subflow_ref;
      if (isObject(ref) && ids.has(ref.pipeline_id_ref)) {
        ref.pipeline_id_ref = ids.get(ref.pipeline_id_ref);
      }
      for (const port of [
        ...(Array.isArray(node.inputs) ? node.inputs : []),
        ...(Array.isArray(node.outputs) ? node.outputs : [])
      ]) {
        if (!isObject(port)) {
          continue;
        }
        if (typeof port.subflow_node_ref === 'string') {
          port.subflow_node_ref =
            nodeIds.get(port.subflow_node_ref) ?? port.subflow_node_ref;
        }
        for (const link of Array.isArray(port.links) ? port.links : []) {
          if (isObject(link) && nodeIds.has(link.node_id_ref)) {
            link.node_id_ref = nodeIds.get(link.node_id_ref)!;
          }
          if (isObject(link) && typeof link.id === 'string') {
            link.id = uuid();
          }
        }
      }
    }
    return pipeline;
  });
  return { list, ids, nodeIds };
}
