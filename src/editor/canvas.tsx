/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The pipeline canvas (React Flow 12): nodes, links, comments, the node
 * palette, drops from the file browser and transient messages. All edits go
 * through the editor model; the canvas only mirrors it.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import type { Drag } from '@lumino/dragdrop';
import {
  applyNodeChanges,
  Background,
  BackgroundVariant,
  Controls,
  Edge,
  FinalConnectionState,
  Handle,
  MarkerType,
  MiniMap,
  Node,
  NodeChange,
  NodeHandle,
  NodeProps,
  NodeResizer,
  Panel,
  Position,
  ReactFlow,
  useReactFlow,
  useStore,
  EdgeChange,
  Connection,
  getNodesBounds,
  getViewportForBounds,
  ReactFlowInstance,
  Viewport
} from '@xyflow/react';
import * as React from 'react';

import {
  IElyraComment,
  IElyraNode,
  nodeFilename,
  nodeLabel,
  nodePosition,
  resolvePath,
  SERVE_OP
} from '../model/elyra';
import { IModelMessage, renderMessage } from '../model/messages';
import type { PipelineEditorModel } from '../model/model';
import {
  expandedSize,
  isBinding,
  isExpanded,
  isSupernode,
  subflowsOf,
  supernodePreview
} from '../model/supernode';
import { pipelineIcon } from '../icons';
import type { INodeType, INodeTypeRegistry, MLPipeAPI } from '../tokens';
import { NodeDecorations, useNodeDecorations } from './decorations';
import { CONTENTS_MIME, nodeIcon, PALETTE_MIME, PATHS_MIME } from './nodeTypes';
import { groupPaletteEntries } from './paletteState';
import { IBox, PipelineOverview } from './overview';

/** Size of a pipeline node before React Flow measured it. */
export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 58;
const NODE_SIZE = { width: NODE_WIDTH, height: NODE_HEIGHT };
const PORT_SIZE = 14;
const NODE_HANDLES: NodeHandle[] = [
  {
    id: 'inPort',
    type: 'target',
    position: Position.Left,
    x: 1 - PORT_SIZE / 2,
    y: NODE_HEIGHT / 2 - PORT_SIZE / 2,
    width: PORT_SIZE,
    height: PORT_SIZE
  },
  {
    id: 'outPort',
    type: 'source',
    position: Position.Right,
    x: NODE_WIDTH - 1 - PORT_SIZE / 2,
    y: NODE_HEIGHT / 2 - PORT_SIZE / 2,
    width: PORT_SIZE,
    height: PORT_SIZE
  }
];

/** What the canvas exposes to commands (fit view, centre, node sizes). */
export interface ICanvasHandle {
  fitView(): void;
  /** The centre of the visible area, in canvas coordinates. */
  center(): { x: number; y: number };
  /** Measured node sizes. */
  sizes(): Map<string, { width: number; height: number }>;
  /** Show a transient message. */
  notify(message: string): void;
}

/** Props of the canvas. */
export interface ICanvasProps {
  model: PipelineEditorModel;
  trans: TranslationBundle;
  /** The palette's node types and how nodes look. */
  nodeTypes: INodeTypeRegistry;
  /** Badges on the nodes (e.g. a run's task states). */
  decorations: NodeDecorations;
  showMinimap: boolean;
  snapToGrid: boolean;
  /** Whether the node palette is folded to a narrow strip. */
  paletteCollapsed: boolean;
  /** Palette groups (categories) the user folded. */
  paletteClosedGroups: readonly string[];
  onTogglePalette: () => void;
  onTogglePaletteGroup: (group: string) => void;
  /** Open a file (path from the server root). */
  onOpenFile: (path: string) => void;
  /** Filled in by the canvas. */
  handle: { current: ICanvasHandle | null };
}

interface ICanvasContext {
  model: PipelineEditorModel;
  trans: TranslationBundle;
  nodeTypes: INodeTypeRegistry;
  /** Status badges (e.g. of a run); `tick` changes when they do. */
  decorations: NodeDecorations;
  tick: number;
}

const CanvasContext = React.createContext<ICanvasContext | null>(null);

/** Re-render when the model's document, selection or problems change. */
export function useModelTick(model: PipelineEditorModel): number {
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTick(t => t + 1);
    model.contentChanged.connect(bump);
    model.selectionChanged.connect(bump);
    model.problemsChanged.connect(bump);
    model.scopeChanged.connect(bump);
    return () => {
      model.contentChanged.disconnect(bump);
      model.selectionChanged.disconnect(bump);
      model.problemsChanged.disconnect(bump);
      model.scopeChanged.disconnect(bump);
    };
  }, [model]);
  return tick;
}

/** Data of a pipeline node on the canvas. */
type PipelineNodeData = {
  label: string;
  filename: string;
  op: string;
  problems: MLPipeAPI.IProblem[];
};

/** Data of a comment on the canvas. */
type CommentNodeData = {
  content: string;
};

/** Data of a supernode on the canvas. */
type SupernodeData = {
  label: string;
  /** How many nodes it holds. */
  count: number;
  expanded: boolean;
  /** Its nodes and links placed in the expanded box (JSON, compared as text). */
  preview: string;
  width: number;
  height: number;
  problems: MLPipeAPI.IProblem[];
};

/** Data of a binding node (a supernode's port, seen from inside). */
type BindingData = {
  /** Links leave it (the supernode's input) or enter it (its output). */
  direction: 'in' | 'out';
};

type PipelineFlowNode = Node<PipelineNodeData, 'pipelineNode'>;
type CommentFlowNode = Node<CommentNodeData, 'comment'>;
type SupernodeFlowNode = Node<SupernodeData, 'supernode'>;
type BindingFlowNode = Node<BindingData, 'binding'>;
type FlowNode =
  PipelineFlowNode | CommentFlowNode | SupernodeFlowNode | BindingFlowNode;

/** A node: type icon, label, file, problem badge, input and output ports. */
const PipelineNodeView = React.memo(
  (props: NodeProps<PipelineFlowNode>): JSX.Element => {
    const ctx = React.useContext(CanvasContext)!;
    const { data, selected } = props;
    const decoration = ctx.decorations.get(props.id);
    const Icon = nodeIcon(ctx.nodeTypes, data.op);
    const errors = data.problems.filter(p => p.severity !== 'warning');
    const severity = errors.length ? 'error' : 'warning';
    const summary = data.problems.map(p => p.message).join('\n');
    return (
      <div
        className={`jp-MLPipe-Node${selected ? ' jp-mod-selected' : ''}${
          data.problems.length ? ` jp-MLPipe-Node-${severity}` : ''
        }`}
        data-op={data.op}
        data-label={data.label}
        data-status={decoration?.status}
      >
        <Handle
          type="target"
          position={Position.Left}
          id="inPort"
          className="jp-MLPipe-Port jp-MLPipe-Port-in"
          title={ctx.trans.__('Input: drop a link here')}
        />
        <Icon.react tag="span" className="jp-MLPipe-Node-icon" />
        <div className="jp-MLPipe-Node-text">
          <div className="jp-MLPipe-Node-label">{data.label}</div>
          <div
            className={`jp-MLPipe-Node-file${data.filename ? '' : ' jp-mod-missing'}`}
          >
            {data.filename ||
              (data.op === SERVE_OP
                ? ctx.trans.__('no model chosen')
                : runsFile(ctx.nodeTypes.get(data.op))
                  ? ctx.trans.__('no file chosen')
                  : '')}
          </div>
        </div>
        {data.problems.length > 0 && (
          <div
            className={`jp-MLPipe-Badge jp-MLPipe-Badge-${severity}`}
            title={summary}
            aria-label={ctx.trans._n(
              '%1 problem',
              '%1 problems',
              data.problems.length
            )}
          >
            {data.problems.length}
            <div className="jp-MLPipe-Tooltip" role="tooltip">
              {data.problems.map((p, i) => (
                <div
                  key={i}
                  className={`jp-MLPipe-Problem${
                    p.severity === 'warning' ? ' jp-MLPipe-Problem-warning' : ''
                  }`}
                >
                  {p.message}
                </div>
              ))}
            </div>
          </div>
        )}
        {decoration && (
          <div
            className="jp-MLPipe-NodeStatus"
            data-status={decoration.status}
            title={decoration.title ?? decoration.label}
          >
            {decoration.label}
          </div>
        )}
        <Handle
          type="source"
          position={Position.Right}
          id="outPort"
          className="jp-MLPipe-Port jp-MLPipe-Port-out"
          title={ctx.trans.__('Output: drag to the node that runs next')}
        />
      </div>
    );
  }
);

/** A canvas comment: double-click to edit, resizable when selected. */
const CommentNodeView = React.memo(
  (props: NodeProps<CommentFlowNode>): JSX.Element => {
    const ctx = React.useContext(CanvasContext)!;
    const { id, data, selected } = props;
    // a comment just added (empty and selected) starts with its text editor open
    const [editing, setEditing] = React.useState(
      () => !data.content && !!selected
    );
    const [text, setText] = React.useState(data.content);
    React.useEffect(() => {
      if (!editing) {
        setText(data.content);
      }
    }, [data.content, editing]);
    const finish = () => {
      setEditing(false);
      if (text !== data.content) {
        ctx.model.updateComment(id, { content: text });
      }
    };
    return (
      <div
        className={`jp-MLPipe-Comment${selected ? ' jp-mod-selected' : ''}`}
        onDoubleClick={event => {
          event.stopPropagation();
          setEditing(true);
        }}
      >
        <NodeResizer
          isVisible={selected && !editing}
          minWidth={80}
          minHeight={32}
          onResizeEnd={(_, params) =>
            ctx.model.updateComment(id, {
              x: params.x,
              y: params.y,
              width: params.width,
              height: params.height
            })
          }
        />
        <Handle
          type="source"
          position={Position.Bottom}
          isConnectable={false}
          className="jp-MLPipe-Comment-handle"
        />
        {editing ? (
          <textarea
            className="jp-MLPipe-Comment-editor nodrag nowheel"
            autoFocus
            value={text}
            aria-label={ctx.trans.__('Comment text')}
            onChange={event => setText(event.target.value)}
            onBlur={finish}
            onKeyDown={event => {
              // keep canvas shortcuts (delete, undo...) away from the text
              event.stopPropagation();
              if (event.key === 'Escape') {
                finish();
              }
            }}
          />
        ) : (
          <div className="jp-MLPipe-Comment-text">
            {data.content || (
              <span className="jp-MLPipe-Comment-placeholder">
                {ctx.trans.__('Double-click to write a comment')}
              </span>
            )}
          </div>
        )}
      </div>
    );
  }
);

/** Size of the chips of an expanded supernode's nodes. */
const CHIP = { width: 96, height: 22 };

/**
 * A supernode: a group of nodes (Elyra's sub-pipeline). Collapsed it looks
 * like a node; expanded it shows its nodes and links. Open it (button or
 * double-click) to edit them.
 */
const SupernodeView = React.memo(
  (props: NodeProps<SupernodeFlowNode>): JSX.Element => {
    const ctx = React.useContext(CanvasContext)!;
    const { id, data, selected } = props;
    const { trans } = ctx;
    const preview = React.useMemo(
      () => JSON.parse(data.preview) as ReturnType<typeof supernodePreview>,
      [data.preview]
    );
    const errors = data.problems.filter(p => p.severity !== 'warning');
    const chips = new Map(preview.nodes.map(n => [n.id, n]));
    return (
      <div
        className={`jp-MLPipe-Node jp-MLPipe-Supernode${
          selected ? ' jp-mod-selected' : ''
        }${data.expanded ? ' jp-mod-expanded' : ''}${
          data.problems.length
            ? ` jp-MLPipe-Node-${errors.length ? 'error' : 'warning'}`
            : ''
        }`}
        data-op="super_node"
        data-label={data.label}
        data-testid="mlpipe-supernode"
      >
        <Handle
          type="target"
          position={Position.Left}
          id="inPort"
          className="jp-MLPipe-Port jp-MLPipe-Port-in"
          title={trans.__('Input: drop a link here')}
        />
        <div className="jp-MLPipe-Supernode-header">
          <button
            type="button"
            className="jp-MLPipe-Supernode-toggle nodrag"
            aria-expanded={data.expanded}
            aria-label={
              data.expanded
                ? trans.__('Collapse supernode')
                : trans.__('Expand supernode')
            }
            title={
              data.expanded
                ? trans.__('Collapse supernode')
                : trans.__('Expand supernode')
            }
            onClick={event => {
              event.stopPropagation();
              ctx.model.setSupernodeExpanded(id, !data.expanded);
            }}
          >
            {data.expanded ? '▾' : '▸'}
          </button>
          <pipelineIcon.react tag="span" className="jp-MLPipe-Node-icon" />
          <div className="jp-MLPipe-Node-text">
            <div className="jp-MLPipe-Node-label">{data.label}</div>
            <div className="jp-MLPipe-Node-file">
              {trans._n('%1 node', '%1 nodes', data.count)}
            </div>
          </div>
          <button
            type="button"
            className="jp-MLPipe-Supernode-open nodrag"
            aria-label={trans.__('Open supernode')}
            title={trans.__('Open the supernode to edit its nodes')}
            onClick={event => {
              event.stopPropagation();
              ctx.model.openSupernode(id);
            }}
          >
            ⤢
          </button>
          {data.problems.length > 0 && (
            <div
              className={`jp-MLPipe-Badge jp-MLPipe-Badge-${
                errors.length ? 'error' : 'warning'
              }`}
              title={data.problems.map(p => p.message).join('\n')}
            >
              {data.problems.length}
            </div>
          )}
        </div>
        {data.expanded && (
          <div
            className="jp-MLPipe-Supernode-body"
            style={{ width: data.width, height: data.height }}
          >
            <svg
              className="jp-MLPipe-Supernode-links"
              width={data.width}
              height={data.height}
            >
              {preview.links.map((link, i) => {
                const a = chips.get(link.source);
                const b = chips.get(link.target);
                return a && b ? (
                  <line
                    key={i}
                    x1={a.x + CHIP.width}
                    y1={a.y + CHIP.height / 2}
                    x2={b.x}
                    y2={b.y + CHIP.height / 2}
                  />
                ) : null;
              })}
            </svg>
            {preview.nodes.map(n => (
              <div
                key={n.id}
                className="jp-MLPipe-Supernode-chip"
                style={{ left: n.x, top: n.y, width: CHIP.width }}
                title={n.label}
                data-op={n.op || 'super_node'}
              >
                {n.label}
              </div>
            ))}
            {!preview.nodes.length && (
              <div className="jp-MLPipe-Placeholder">
                {trans.__('Empty: open it to add nodes.')}
              </div>
            )}
          </div>
        )}
        <Handle
          type="source"
          position={Position.Right}
          id="outPort"
          className="jp-MLPipe-Port jp-MLPipe-Port-out"
          title={trans.__('Output: drag to the node that runs next')}
        />
      </div>
    );
  }
);

/** A binding node: where links enter or leave the supernode being edited. */
const BindingView = React.memo(
  (props: NodeProps<BindingFlowNode>): JSX.Element => {
    const ctx = React.useContext(CanvasContext)!;
    const into = props.data.direction === 'in';
    return (
      <div
        className={`jp-MLPipe-Binding${props.selected ? ' jp-mod-selected' : ''}`}
        data-direction={props.data.direction}
        title={
          into
            ? ctx.trans.__('Links into the supernode come in here')
            : ctx.trans.__('Links out of the supernode leave here')
        }
      >
        {into ? (
          <Handle
            type="source"
            position={Position.Right}
            id="outPort"
            className="jp-MLPipe-Port jp-MLPipe-Port-out"
          />
        ) : (
          <Handle
            type="target"
            position={Position.Left}
            id="inPort"
            className="jp-MLPipe-Port jp-MLPipe-Port-in"
          />
        )}
        {into ? ctx.trans.__('In') : ctx.trans.__('Out')}
      </div>
    );
  }
);

const NODE_TYPES = {
  pipelineNode: PipelineNodeView,
  comment: CommentNodeView,
  supernode: SupernodeView,
  binding: BindingView
};

/** Whether nodes of a type run a file (unknown types: yes, as Elyra's generic nodes). */
function runsFile(type: INodeType | undefined): boolean {
  return type ? (type.runsFile ?? !!type.extensions?.length) : true;
}

/** The node types of the registry, following its changes. */
function useNodeTypes(registry: INodeTypeRegistry): readonly INodeType[] {
  const [types, setTypes] = React.useState(() => registry.list());
  React.useEffect(() => {
    const update = () => setTypes(registry.list());
    registry.changed.connect(update);
    update();
    return () => {
      registry.changed.disconnect(update);
    };
  }, [registry]);
  return types;
}

/** Palette of node types, by category: drag onto the canvas, or click to add in the middle. */
function NodePalette(props: {
  trans: TranslationBundle;
  nodeTypes: INodeTypeRegistry;
  onAdd: (op: string, title: string) => void;
  collapsed: boolean;
  closedGroups: readonly string[];
  onToggle: () => void;
  onToggleGroup: (group: string) => void;
}): JSX.Element {
  const { trans, collapsed } = props;
  const types = useNodeTypes(props.nodeTypes);
  const groups = groupPaletteEntries(types, trans.__('Nodes'));
  const label = collapsed
    ? trans.__('Show the node palette')
    : trans.__('Collapse the node palette');
  return (
    <div
      className={`jp-MLPipe-Palette${collapsed ? ' jp-mod-collapsed' : ''}`}
      aria-label={trans.__('Node types')}
    >
      <div className="jp-MLPipe-Palette-header">
        <button
          type="button"
          className="jp-MLPipe-Palette-toggle"
          aria-expanded={!collapsed}
          aria-label={label}
          title={label}
          onClick={props.onToggle}
        >
          {collapsed ? '»' : '«'}
        </button>
        {!collapsed && (
          <span className="jp-MLPipe-Palette-heading">
            {trans.__('Node types')}
          </span>
        )}
      </div>
      {!collapsed &&
        groups.map(([category, members]) => {
          const open = !props.closedGroups.includes(category);
          return (
            <div
              key={category}
              className="jp-MLPipe-Palette-group"
              role="group"
              aria-label={category}
            >
              <button
                type="button"
                className="jp-MLPipe-Palette-title"
                aria-expanded={open}
                title={
                  open
                    ? trans.__('Collapse %1', category)
                    : trans.__('Expand %1', category)
                }
                onClick={() => props.onToggleGroup(category)}
              >
                <span aria-hidden="true">{open ? '▾' : '▸'}</span> {category}
              </button>
              {open &&
                members.map(type => (
                  <PaletteItem
                    key={type.op}
                    type={type}
                    trans={trans}
                    onAdd={props.onAdd}
                  />
                ))}
            </div>
          );
        })}
    </div>
  );
}

function PaletteItem(props: {
  type: INodeType;
  trans: TranslationBundle;
  onAdd: (op: string, title: string) => void;
}): JSX.Element {
  const { type, trans } = props;
  return (
    <div
      className="jp-MLPipe-Palette-item"
      data-op={type.op}
      draggable
      role="button"
      tabIndex={0}
      title={
        (type.description ? `${type.description}\n` : '') +
        trans.__('Drag onto the canvas (or click) to add a %1 node', type.title)
      }
      onDragStart={event => {
        event.dataTransfer.setData(PALETTE_MIME, type.op);
        event.dataTransfer.setData('text/plain', type.title);
        event.dataTransfer.effectAllowed = 'copy';
      }}
      onClick={() => props.onAdd(type.op, type.title)}
      onKeyDown={event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          props.onAdd(type.op, type.title);
        }
      }}
    >
      <type.icon.react tag="span" className="jp-MLPipe-Palette-icon" />
      <span className="jp-MLPipe-Palette-label">{type.title}</span>
    </div>
  );
}

/** Where the editor is: the pipeline, then the supernodes it is inside; click one to go back. */
function SupernodeTrail(props: {
  model: PipelineEditorModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const scope = model.scope;
  return (
    <nav
      className="jp-MLPipe-Trail"
      aria-label={trans.__('Supernodes')}
      data-testid="mlpipe-trail"
    >
      <button
        type="button"
        className="jp-MLPipe-Trail-back"
        title={trans.__('Back to the enclosing pipeline')}
        onClick={() => model.closeSupernode()}
      >
        ←
      </button>
      <button
        type="button"
        className="jp-MLPipe-Trail-level"
        onClick={() => model.closeSupernode(0)}
      >
        {trans.__('Pipeline')}
      </button>
      {scope.map((level, i) => (
        <React.Fragment key={level.pipeline}>
          <span className="jp-MLPipe-Trail-sep">›</span>
          {i === scope.length - 1 ? (
            <span className="jp-MLPipe-Trail-current" aria-current="page">
              {level.label}
            </span>
          ) : (
            <button
              type="button"
              className="jp-MLPipe-Trail-level"
              onClick={() => model.closeSupernode(i + 1)}
            >
              {level.label}
            </button>
          )}
        </React.Fragment>
      ))}
    </nav>
  );
}

/** Build React Flow nodes from the model, keeping what React Flow measured. */
function buildNodes(
  model: PipelineEditorModel,
  nodeTypes: INodeTypeRegistry,
  previous: FlowNode[]
): FlowNode[] {
  const before = new Map(previous.map(n => [n.id, n]));
  const selection = model.selection;
  const problems = new Map<string, MLPipeAPI.IProblem[]>();
  for (const problem of model.problems) {
    if (problem.node_id) {
      const list = problems.get(problem.node_id) ?? [];
      list.push(problem);
      problems.set(problem.node_id, list);
    }
  }
  const nodes: FlowNode[] = model.nodes.map((node: IElyraNode) => {
    const old = before.get(node.id);
    if (isSupernode(node)) {
      const expanded = isExpanded(node);
      const size = expandedSize(node);
      const doc = model.document!;
      const data: SupernodeData = {
        label: nodeLabel(node),
        count: model.supernodeNodes(node.id).length,
        expanded,
        preview: JSON.stringify(
          expanded
            ? supernodePreview(doc, node, size.width, size.height, CHIP)
            : { nodes: [], links: [] }
        ),
        width: size.width,
        height: size.height,
        // its own problems and those of the nodes it holds (at any depth)
        problems: [
          node,
          ...subflowsOf(doc, [node]).flatMap(p =>
            Array.isArray(p.nodes) ? p.nodes : []
          )
        ].flatMap(n => (n && problems.get(n.id)) || NO_PROBLEMS)
      };
      return reuse(old, {
        id: node.id,
        type: 'supernode',
        position: nodePosition(node),
        selected: selection.has(node.id),
        measured: old?.type === 'supernode' ? old.measured : undefined,
        data
      });
    }
    if (isBinding(node)) {
      const outputs = Array.isArray(node.outputs) ? node.outputs : [];
      const inputs = Array.isArray(node.inputs) ? node.inputs : [];
      return reuse(old, {
        id: node.id,
        type: 'binding',
        position: nodePosition(node),
        selected: selection.has(node.id),
        measured: old?.type === 'binding' ? old.measured : undefined,
        data: {
          direction: outputs.length || !inputs.length ? 'in' : 'out'
        }
      });
    }
    const next: PipelineFlowNode = {
      id: node.id,
      type: 'pipelineNode',
      position: nodePosition(node),
      selected: selection.has(node.id),
      // the size a node has (fixed width, one-line label and file): React Flow
      // shows it at once instead of hiding it until measured, and the
      // measurement that confirms it changes nothing (no second render of all)
      measured: old?.measured ?? NODE_SIZE,
      // where the ports are (style/base.css: 10 px + 2 px border, centred on
      // the inner edges of the node's 1 px border): React Flow then skips
      // measuring 1,000 ports with getBoundingClientRect after the open
      handles: NODE_HANDLES,
      data: {
        label: nodeLabel(node),
        filename: subtitle(nodeTypes.get(node.op), node),
        op: node.op ?? '',
        problems: problems.get(node.id) ?? NO_PROBLEMS
      }
    };
    return reuse(old, next);
  });
  const comments: FlowNode[] = model.comments.map((c: IElyraComment) => {
    const old = before.get(c.id);
    return reuse(old, {
      id: c.id,
      type: 'comment',
      position: { x: Number(c.x_pos) || 0, y: Number(c.y_pos) || 0 },
      selected: selection.has(c.id),
      width: Number(c.width) || 175,
      height: Number(c.height) || 60,
      measured: old?.measured,
      zIndex: -1,
      data: { content: typeof c.content === 'string' ? c.content : '' }
    });
  });
  return [...comments, ...nodes];
}

const NO_PROBLEMS: MLPipeAPI.IProblem[] = [];

/** The line under a node's label: its type's subtitle, else its file. */
function subtitle(type: INodeType | undefined, node: IElyraNode): string {
  if (type?.subtitle) {
    return type.subtitle(node);
  }
  return runsFile(type) ? nodeFilename(node) : '';
}

/** Shallow equality of two records (arrays compared item by item). */
function sameRecord(a: object, b: object): boolean {
  const x = a as { [key: string]: unknown };
  const y = b as { [key: string]: unknown };
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) {
    return false;
  }
  return keys.every(key => {
    const u = x[key];
    const v = y[key];
    if (Array.isArray(u) && Array.isArray(v)) {
      return u.length === v.length && u.every((item, i) => item === v[i]);
    }
    return u === v;
  });
}

/**
 * The previous node object when nothing shown changed: React Flow and the
 * memoised node views then skip it, so a selection or one edit on a large
 * pipeline re-renders one node, not all of them.
 */
function reuse<T extends FlowNode>(old: FlowNode | undefined, next: T): T {
  if (
    old &&
    old.type === next.type &&
    old.selected === next.selected &&
    old.width === next.width &&
    old.height === next.height &&
    old.position.x === next.position.x &&
    old.position.y === next.position.y &&
    sameRecord(old.data, next.data)
  ) {
    return old as T;
  }
  return next;
}

/** Build React Flow edges from the model: links, and dashed comment references. */
function buildEdges(model: PipelineEditorModel, previous: Edge[]): Edge[] {
  const before = new Map(previous.map(e => [e.id, e]));
  // unchanged edges keep their object, so React Flow skips them
  const keep = (edge: Edge): Edge => {
    const old = before.get(edge.id);
    return old &&
      old.source === edge.source &&
      old.target === edge.target &&
      old.selected === edge.selected
      ? old
      : edge;
  };
  const selection = model.selection;
  const nodeIds = new Set(model.nodes.map(n => n.id));
  const links: Edge[] = model.links
    .filter(l => nodeIds.has(l.source) && nodeIds.has(l.target))
    .map(link => ({
      id: link.id,
      source: link.source,
      target: link.target,
      sourceHandle: 'outPort',
      targetHandle: 'inPort',
      selected: selection.has(link.id),
      className: 'jp-MLPipe-Link',
      markerEnd: ARROW
    }))
    .map(keep);
  const refs: Edge[] = model.comments.flatMap(comment =>
    (comment.associated_id_refs ?? [])
      .filter(ref => nodeIds.has(ref?.node_ref))
      .map(ref => ({
        id: `comment:${comment.id}:${ref.node_ref}`,
        source: comment.id,
        target: ref.node_ref,
        targetHandle: 'inPort',
        selectable: false,
        focusable: false,
        deletable: false,
        className: 'jp-MLPipe-CommentLink',
        type: 'straight'
      }))
      .map(keep)
  );
  return [...links, ...refs];
}

/** From this many nodes and comments on, the minimap is a single path. */
const LARGE_PIPELINE = 150;

/** Boxes of the nodes and comments, for the overview of a large pipeline. */
function overviewBoxes(model: PipelineEditorModel): IBox[] {
  return [
    ...model.nodes.map(node => ({
      ...nodePosition(node),
      width: NODE_WIDTH,
      height: NODE_HEIGHT
    })),
    ...model.comments.map(c => ({
      x: Number(c.x_pos) || 0,
      y: Number(c.y_pos) || 0,
      width: Number(c.width) || 175,
      height: Number(c.height) || 60
    }))
  ];
}

/** Below this zoom the canvas draws simpler nodes. */
const ZOOMED_OUT = 0.5;

const ARROW = { type: MarkerType.ArrowClosed, width: 16, height: 16 };

// React Flow props as constants: React Flow copies them into its store on
// every render, and a new object there (e.g. `defaultEdgeOptions`) re-renders
// every edge, on every frame of a drag
const MIN_ZOOM = 0.1;
const MULTI_SELECTION_KEYS = ['Meta', 'Control'];
const SNAP_GRID: [number, number] = [10, 10];
const FIT_VIEW_OPTIONS = { padding: 0.2, maxZoom: 1.2 };
const PRO_OPTIONS = { hideAttribution: true };
const DEFAULT_EDGE_OPTIONS = { type: 'default' };
const DEFAULT_VIEWPORT: Viewport = { x: 0, y: 0, zoom: 1 };
const MINIMAP_STYLE = { width: 160, height: 110 };

/** The canvas. Must be inside a `ReactFlowProvider`. */
export function PipelineCanvas(props: ICanvasProps): JSX.Element {
  const { model, trans, handle, nodeTypes } = props;
  const tick = useModelTick(model);
  const [decorations, decorationsTick] = useNodeDecorations(props.decorations);
  const flow = useReactFlow();
  // zoomed out (a large pipeline in view): simpler nodes, see the stylesheet
  const zoomedOut = useStore(state => state.transform[2] < ZOOMED_OUT);
  const wrapper = React.useRef<HTMLDivElement>(null);
  const [nodes, setNodes] = React.useState<FlowNode[]>(() =>
    buildNodes(model, nodeTypes, [])
  );
  const [dropping, setDropping] = React.useState(false);
  // fit the view on open only when there is something to fit (else the first
  // node dropped would move the view under the user's hand)
  const [fitOnOpen] = React.useState(() => model.nodes.length > 0);
  const [notice, setNotice] = React.useState<{ text: string; id: number }>();
  // The opening view, fitted before React Flow's first render: nodes come
  // with their size (see buildNodes) so React Flow shows them at once, and
  // its own fitView would then run too early (before its zoom exists) or
  // after a first paint of the unfitted view. Unknown while the canvas has no
  // size (opened in a hidden tab): React Flow fits once it starts then.
  const [start, setStart] = React.useState<{ viewport?: Viewport } | null>(
    null
  );
  React.useLayoutEffect(() => {
    const box = wrapper.current?.getBoundingClientRect();
    if (fitOnOpen && box && box.width > 0 && box.height > 0) {
      const { padding, maxZoom } = FIT_VIEW_OPTIONS;
      const bounds = getNodesBounds(buildNodes(model, nodeTypes, []));
      setStart({
        viewport: getViewportForBounds(
          bounds,
          box.width,
          box.height,
          MIN_ZOOM,
          maxZoom,
          padding
        )
      });
    } else {
      setStart({});
    }
  }, []);
  const fitLater = React.useCallback(
    (instance: ReactFlowInstance<FlowNode, Edge>) =>
      void instance.fitView(FIT_VIEW_OPTIONS),
    []
  );

  // a node type added or removed may change how nodes look
  const types = useNodeTypes(nodeTypes);
  React.useEffect(() => {
    setNodes(previous => buildNodes(model, nodeTypes, previous));
  }, [model, tick, types]);
  const previousEdges = React.useRef<Edge[]>([]);
  const edges = React.useMemo(
    () => (previousEdges.current = buildEdges(model, previousEdges.current)),
    [model, tick]
  );
  const large = model.nodes.length + model.comments.length >= LARGE_PIPELINE;
  const boxes = React.useMemo(
    () => (large ? overviewBoxes(model) : []),
    [model, tick, large]
  );
  // one context object per model: a new one would re-render every node view
  // on each canvas render (every drag frame)
  // one object per change, so node views re-render only when one of these does
  const context = React.useMemo(
    () => ({ model, trans, nodeTypes, decorations, tick: decorationsTick }),
    [model, trans, nodeTypes, decorations, decorationsTick, types]
  );

  // transient messages: refused links, unsupported drops...
  const notify = React.useCallback((text: string) => {
    setNotice({ text, id: Date.now() });
  }, []);
  React.useEffect(() => {
    const show = (_: unknown, text: IModelMessage) =>
      notify(renderMessage(text, trans));
    model.notice.connect(show);
    return () => {
      model.notice.disconnect(show);
    };
  }, [model, notify, trans]);
  React.useEffect(() => {
    if (!notice) {
      return;
    }
    const timer = setTimeout(() => setNotice(undefined), 5000);
    return () => clearTimeout(timer);
  }, [notice]);

  handle.current = {
    fitView: () => void flow.fitView({ padding: 0.2, duration: 200 }),
    center: () => {
      const box = wrapper.current?.getBoundingClientRect();
      if (!box) {
        return { x: 0, y: 0 };
      }
      return flow.screenToFlowPosition({
        x: box.left + box.width / 2,
        y: box.top + box.height / 2
      });
    },
    sizes: () => {
      const sizes = new Map<string, { width: number; height: number }>();
      for (const node of flow.getNodes()) {
        sizes.set(node.id, {
          width: node.measured?.width ?? NODE_WIDTH,
          height: node.measured?.height ?? NODE_HEIGHT
        });
      }
      return sizes;
    },
    notify
  };

  // whether a mouse drag is under way (its end is one undo step; keyboard nudges merge)
  const dragging = React.useRef(false);

  const onNodesChange = React.useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      setNodes(current => applyNodeChanges(changes, current));
      const selects = changes.filter(c => c.type === 'select');
      if (selects.length) {
        const next = new Set(model.selection);
        for (const change of selects) {
          if (change.type === 'select') {
            if (change.selected) {
              next.add(change.id);
            } else {
              next.delete(change.id);
            }
          }
        }
        model.select(next);
      }
      // a finished drag, or a move with the arrow keys: write it to the model
      const positions: { [id: string]: { x: number; y: number } } = {};
      let done = false;
      for (const change of changes) {
        if (change.type !== 'position') {
          continue;
        }
        if (change.dragging) {
          dragging.current = true;
        } else if (change.position) {
          positions[change.id] = change.position;
          done = true;
        }
      }
      if (done) {
        const wasDrag = dragging.current;
        dragging.current = false;
        model.moveItems(positions, wasDrag ? {} : { mergeKey: 'nudge' });
      }
    },
    [model]
  );

  const onEdgesChange = React.useCallback(
    (changes: EdgeChange[]) => {
      const selects = changes.filter(c => c.type === 'select');
      if (selects.length) {
        const next = new Set(model.selection);
        for (const change of selects) {
          if (change.type === 'select') {
            if (change.selected) {
              next.add(change.id);
            } else {
              next.delete(change.id);
            }
          }
        }
        model.select(next);
      }
    },
    [model]
  );

  const onConnect = React.useCallback(
    (connection: Connection) => {
      model.connect(connection.source, connection.target);
    },
    [model]
  );

  const isValidConnection = React.useCallback(
    (connection: Connection | Edge) =>
      model.nodes.some(n => n.id === connection.source) &&
      model.canConnect(connection.source, connection.target).ok,
    [model]
  );

  const onConnectEnd = React.useCallback(
    (_: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      // a refused drop on another node: say why (cycle, duplicate, self)
      if (state.isValid === false && state.fromNode && state.toNode) {
        const [source, target] =
          state.fromHandle?.type === 'target'
            ? [state.toNode.id, state.fromNode.id]
            : [state.fromNode.id, state.toNode.id];
        const check = model.canConnect(source, target);
        if (!check.ok && check.reason !== 'missing') {
          notify(renderMessage(check.message, trans));
        }
      }
    },
    [model, notify, trans]
  );

  const addAt = React.useCallback(
    (op: string, title: string, at: { x: number; y: number }) => {
      model.addNode({
        op,
        filename: '',
        label: title,
        x: at.x - NODE_WIDTH / 2,
        y: at.y - NODE_HEIGHT / 2
      });
    },
    [model]
  );

  const dropFiles = React.useCallback(
    (paths: string[], clientX: number, clientY: number) => {
      const at = flow.screenToFlowPosition({ x: clientX, y: clientY });
      const added = model.addFiles(paths, {
        x: at.x - NODE_WIDTH / 2,
        y: at.y - NODE_HEIGHT / 2
      });
      const skipped = paths.length - added.length;
      if (skipped > 0) {
        notify(
          trans._n(
            '%1 item is not a file any node type runs (notebook, Python or R script), so it was not added.',
            '%1 items are not files any node type runs (notebooks, Python or R scripts), so they were not added.',
            skipped
          )
        );
      }
    },
    [model, flow, notify, trans]
  );

  // HTML5 drops: palette items, or paths from other tools
  const onDragOver = (event: React.DragEvent) => {
    const types = Array.from(event.dataTransfer.types);
    if (types.includes(PALETTE_MIME) || types.includes(PATHS_MIME)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      setDropping(true);
    }
  };
  const onDrop = (event: React.DragEvent) => {
    setDropping(false);
    const op = event.dataTransfer.getData(PALETTE_MIME);
    if (op) {
      event.preventDefault();
      const type = nodeTypes.get(op);
      addAt(
        op,
        type?.title ?? op,
        flow.screenToFlowPosition({ x: event.clientX, y: event.clientY })
      );
      return;
    }
    const paths = event.dataTransfer.getData(PATHS_MIME);
    if (paths) {
      event.preventDefault();
      try {
        const list = JSON.parse(paths);
        if (Array.isArray(list)) {
          dropFiles(
            list.filter(p => typeof p === 'string'),
            event.clientX,
            event.clientY
          );
        }
      } catch {
        notify(trans.__('The dropped data is not a list of files.'));
      }
    }
  };

  // Lumino drops from JupyterLab's file browser
  React.useEffect(() => {
    const node = wrapper.current;
    if (!node) {
      return;
    }
    const accepts = (event: Drag.Event) =>
      event.mimeData?.hasData(CONTENTS_MIME) ?? false;
    const onEnterOrOver = (event: Event) => {
      const drag = event as Drag.Event;
      if (!accepts(drag)) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      if (event.type === 'lm-dragover') {
        drag.dropAction = drag.proposedAction;
      }
      setDropping(true);
    };
    const onLeave = (event: Event) => {
      const drag = event as Drag.Event;
      if (accepts(drag)) {
        event.preventDefault();
        event.stopPropagation();
        if (!node.contains(drag.relatedTarget as HTMLElement | null)) {
          setDropping(false);
        }
      }
    };
    const onLuminoDrop = (event: Event) => {
      const drag = event as Drag.Event;
      if (!accepts(drag)) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      setDropping(false);
      // the canvas adds nodes; the file browser must not move the files
      drag.dropAction = 'copy';
      const paths = drag.mimeData.getData(CONTENTS_MIME);
      if (Array.isArray(paths)) {
        dropFiles(paths, drag.clientX, drag.clientY);
      }
    };
    node.addEventListener('lm-dragenter', onEnterOrOver);
    node.addEventListener('lm-dragover', onEnterOrOver);
    node.addEventListener('lm-dragleave', onLeave);
    node.addEventListener('lm-drop', onLuminoDrop);
    return () => {
      node.removeEventListener('lm-dragenter', onEnterOrOver);
      node.removeEventListener('lm-dragover', onEnterOrOver);
      node.removeEventListener('lm-dragleave', onLeave);
      node.removeEventListener('lm-drop', onLuminoDrop);
    };
  }, [dropFiles]);

  // Right-click on a node or link: select it, and open JupyterLab's context menu
  // from the canvas itself. React Flow marks nodes with `data-id`, which
  // JupyterLab's "Close Tab" would otherwise take for a widget id.
  React.useEffect(() => {
    const node = wrapper.current;
    if (!node) {
      return;
    }
    const onContextMenu = (event: MouseEvent) => {
      const item = (event.target as HTMLElement | null)?.closest<HTMLElement>(
        '.react-flow__node, .react-flow__edge'
      );
      if (!event.isTrusted || !item) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      const id = item.dataset.id;
      if (id && !model.selection.has(id) && !id.startsWith('comment:')) {
        model.select([id]);
      }
      node.dispatchEvent(
        new MouseEvent('contextmenu', {
          bubbles: true,
          cancelable: true,
          clientX: event.clientX,
          clientY: event.clientY,
          screenX: event.screenX,
          screenY: event.screenY,
          button: event.button,
          buttons: event.buttons,
          ctrlKey: event.ctrlKey,
          altKey: event.altKey,
          metaKey: event.metaKey
        })
      );
    };
    node.addEventListener('contextmenu', onContextMenu, true);
    return () => node.removeEventListener('contextmenu', onContextMenu, true);
  }, [model]);

  const onNodeDoubleClick = React.useCallback(
    (_: React.MouseEvent, node: Node) => {
      if (node.type === 'supernode') {
        model.openSupernode(node.id);
        return;
      }
      if (node.type !== 'pipelineNode') {
        return;
      }
      const elyraNode = model.node(node.id) ?? { id: node.id };
      if (elyraNode.op === SERVE_OP) {
        notify(
          trans.__(
            'A Serve MLflow model node has no file: choose its model in the properties.'
          )
        );
        return;
      }
      if (!runsFile(nodeTypes.get(elyraNode.op))) {
        notify(trans.__('This node has no file: set it up in its properties.'));
        return;
      }
      const file = nodeFilename(elyraNode);
      if (file) {
        props.onOpenFile(resolvePath(model.folder, file));
      } else {
        notify(
          trans.__('This node has no file yet: choose one in its properties.')
        );
      }
    },
    [model, nodeTypes, props.onOpenFile, notify, trans]
  );

  // into or out of a supernode: show the whole pipeline of the new level
  React.useEffect(() => {
    const fit = () =>
      requestAnimationFrame(() => void flow.fitView(FIT_VIEW_OPTIONS));
    model.scopeChanged.connect(fit);
    return () => {
      model.scopeChanged.disconnect(fit);
    };
  }, [model, flow]);

  const empty = model.nodes.length === 0 && model.comments.length === 0;

  return (
    <CanvasContext.Provider value={context}>
      <div
        ref={wrapper}
        className={`jp-MLPipe-Flow${dropping ? ' jp-mod-dropTarget' : ''}${
          zoomedOut ? ' jp-mod-zoomedOut' : ''
        }`}
        data-testid="mlpipe-canvas"
        onDragOver={onDragOver}
        onDragLeave={() => setDropping(false)}
        onDrop={onDrop}
      >
        {start && (
          <ReactFlow<FlowNode, Edge>
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onConnectEnd={onConnectEnd}
            isValidConnection={isValidConnection}
            onNodeDoubleClick={onNodeDoubleClick}
            deleteKeyCode={null}
            selectionKeyCode="Shift"
            multiSelectionKeyCode={MULTI_SELECTION_KEYS}
            snapToGrid={props.snapToGrid}
            snapGrid={SNAP_GRID}
            minZoom={MIN_ZOOM}
            maxZoom={2.5}
            defaultViewport={start.viewport ?? DEFAULT_VIEWPORT}
            onInit={fitOnOpen && !start.viewport ? fitLater : undefined}
            fitViewOptions={FIT_VIEW_OPTIONS}
            zoomOnDoubleClick={false}
            proOptions={PRO_OPTIONS}
            defaultEdgeOptions={DEFAULT_EDGE_OPTIONS}
          >
            <Background variant={BackgroundVariant.Dots} gap={20} size={1} />
            <Controls
              showInteractive={false}
              aria-label={trans.__('Zoom controls')}
            />
            {props.showMinimap && large && (
              <PipelineOverview
                boxes={boxes}
                ariaLabel={trans.__('Overview of the pipeline')}
                width={MINIMAP_STYLE.width}
                height={MINIMAP_STYLE.height}
              />
            )}
            {props.showMinimap && !large && (
              <MiniMap
                pannable
                zoomable
                ariaLabel={trans.__('Overview of the pipeline')}
                className="jp-MLPipe-Minimap"
                style={MINIMAP_STYLE}
              />
            )}
            <Panel position="top-left">
              <NodePalette
                trans={trans}
                nodeTypes={nodeTypes}
                onAdd={(op, title) =>
                  addAt(op, title, handle.current!.center())
                }
                collapsed={props.paletteCollapsed}
                closedGroups={props.paletteClosedGroups}
                onToggle={props.onTogglePalette}
                onToggleGroup={props.onTogglePaletteGroup}
              />
            </Panel>
            {model.scope.length > 0 && (
              <Panel position="top-right">
                <SupernodeTrail model={model} trans={trans} />
              </Panel>
            )}
            {notice && (
              <Panel position="top-center">
                <div
                  key={notice.id}
                  className="jp-MLPipe-Notice"
                  role="status"
                  aria-live="polite"
                >
                  <span>{notice.text}</span>
                  <button
                    type="button"
                    className="jp-MLPipe-Notice-close"
                    aria-label={trans.__('Dismiss')}
                    onClick={() => setNotice(undefined)}
                  >
                    ×
                  </button>
                </div>
              </Panel>
            )}
          </ReactFlow>
        )}
        {empty && (
          <div className="jp-MLPipe-EmptyHint">
            {trans.__(
              'Drag notebooks, Python or R scripts here from the file browser, or node types from the palette. Connect a node’s right port to the next node’s left port.'
            )}
          </div>
        )}
      </div>
    </CanvasContext.Provider>
  );
}
