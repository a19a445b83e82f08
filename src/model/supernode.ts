/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Supernodes as Elyra's canvas writes them (pipeline-flow v3): a node of type
 * `super_node` whose `subflow_ref.pipeline_id_ref` names another pipeline of
 * the document's `pipelines` list. Links cross the border through ports of
 * the supernode (`<inner node>_<inner port>`, with `subflow_node_ref` naming a
 * `binding` node of the sub-pipeline): the entry binding's output port is
 * `output_<supernode input port>`, the exit binding's input port is
 * `input_<supernode output port>`. Pure functions on the parsed document.
 */

import {
  basename,
  ensureArray,
  IElyraLink,
  IElyraNode,
  IElyraPipeline,
  IElyraPort,
  IJSONObject,
  IN_PORT,
  IPipelineDocument,
  isObject,
  nodeFilename,
  nodePosition,
  OUT_PORT,
  setNodePosition,
  uuid
} from './elyra';

/** `type` of a supernode. */
export const SUPER_NODE = 'super_node';

/** `type` of the nodes that stand for a supernode's ports inside its pipeline. */
export const BINDING = 'binding';

/** Size of an expanded supernode when the file gives none (Elyra's default). */
export const EXPANDED_SIZE = { width: 300, height: 200 };

/** Whether a node is a supernode. */
export function isSupernode(node: IElyraNode | undefined | null): boolean {
  return !!node && node.type === SUPER_NODE;
}

/** Whether a node is a binding node (a supernode's port, inside). */
export function isBinding(node: IElyraNode | undefined | null): boolean {
  return !!node && node.type === BINDING;
}

/** The id of the pipeline a supernode holds, or ''. */
export function subflowId(node: IElyraNode): string {
  const ref = node.subflow_ref;
  return isObject(ref) && typeof ref.pipeline_id_ref === 'string'
    ? ref.pipeline_id_ref
    : '';
}

/** The pipeline with `id`. */
export function findPipeline(
  doc: IPipelineDocument,
  id: string
): IElyraPipeline | undefined {
  return doc.pipelines.find(p => isObject(p) && p.id === id);
}

/** The pipeline a supernode holds, if the document has it. */
export function subflow(
  doc: IPipelineDocument,
  node: IElyraNode
): IElyraPipeline | undefined {
  const id = subflowId(node);
  return id ? findPipeline(doc, id) : undefined;
}

/** Whether a supernode is shown expanded (Elyra's `ui_data.is_expanded`). */
export function isExpanded(node: IElyraNode): boolean {
  return node.app_data?.ui_data?.is_expanded === true;
}

/** The size of an expanded supernode. */
export function expandedSize(node: IElyraNode): {
  width: number;
  height: number;
} {
  const ui = node.app_data?.ui_data ?? {};
  const width = Number(ui.expanded_width);
  const height = Number(ui.expanded_height);
  return {
    width: Number.isFinite(width) && width >= 120 ? width : EXPANDED_SIZE.width,
    height:
      Number.isFinite(height) && height >= 80 ? height : EXPANDED_SIZE.height
  };
}

/** The nodes of a pipeline (objects only). */
function nodesOf(pipeline: IElyraPipeline | undefined): IElyraNode[] {
  return Array.isArray(pipeline?.nodes) ? pipeline!.nodes.filter(isObject) : [];
}

/** The nodes of a supernode's pipeline that do work (no bindings). */
export function innerNodes(
  doc: IPipelineDocument,
  node: IElyraNode
): IElyraNode[] {
  return nodesOf(subflow(doc, node)).filter(n => !isBinding(n));
}

/** The label of a supernode's inner node (as `nodeLabel`, without importing the model). */
function label(node: IElyraNode): string {
  const app = isObject(node.app_data) ? node.app_data : {};
  for (const value of [app.label, app.ui_data?.label]) {
    if (typeof value === 'string' && value.trim()) {
      return value.trim();
    }
  }
  const file = nodeFilename(node);
  return file ? basename(file) : node.id;
}

/** A preview of a supernode's pipeline: its nodes, placed in a `width` x `height` box, and links. */
export function supernodePreview(
  doc: IPipelineDocument,
  node: IElyraNode,
  width: number,
  height: number,
  chip = { width: 90, height: 22 }
): {
  nodes: {
    id: string;
    label: string;
    op: string;
    x: number;
    y: number;
    supernode: boolean;
  }[];
  links: { source: string; target: string }[];
} {
  const inner = innerNodes(doc, node);
  if (!inner.length) {
    return { nodes: [], links: [] };
  }
  const points = inner.map(nodePosition);
  const minX = Math.min(...points.map(p => p.x));
  const minY = Math.min(...points.map(p => p.y));
  const spanX = Math.max(...points.map(p => p.x)) - minX || 1;
  const spanY = Math.max(...points.map(p => p.y)) - minY || 1;
  const freeX = Math.max(width - chip.width, 0);
  const freeY = Math.max(height - chip.height, 0);
  const scale = Math.min(freeX / spanX, freeY / spanY, 1);
  // centred in the box
  const dx = Math.max((width - (spanX * scale + chip.width)) / 2, 0);
  const dy = Math.max(
    (height - ((spanY > 1 ? spanY : 0) * scale + chip.height)) / 2,
    0
  );
  const nodes = inner.map((n, i) => ({
    id: n.id,
    label: label(n),
    op: n.op ?? '',
    x: Math.round(dx + (points[i].x - minX) * scale),
    y: Math.round(dy + (points[i].y - minY) * scale),
    supernode: isSupernode(n)
  }));
  const ids = new Set(inner.map(n => n.id));
  const links: { source: string; target: string }[] = [];
  for (const n of inner) {
    for (const port of Array.isArray(n.inputs) ? n.inputs : []) {
      for (const link of isObject(port) && Array.isArray(port.links)
        ? port.links
        : []) {
        if (isObject(link) && ids.has(link.node_id_ref)) {
          links.push({ source: link.node_id_ref, target: n.id });
        }
      }
    }
  }
  return { nodes, links };
}

/** The id of the output port links from `node` start at (its first, else `outPort`). */
export function outputPortId(node: IElyraNode): string {
  const outputs = Array.isArray(node.outputs) ? node.outputs : [];
  const first = outputs.find(p => isObject(p) && typeof p.id === 'string');
  return first ? first.id : OUT_PORT;
}

function bindingPort(id: string, label: string): IElyraPort {
  return {
    id,
    app_data: {
      ui_data: { cardinality: { min: 0, max: -1 }, label }
    }
  };
}

function newBinding(
  id: string,
  position: { x: number; y: number },
  ports: { inputs?: IElyraPort[]; outputs?: IElyraPort[] }
): IElyraNode {
  const node: IElyraNode = {
    id,
    type: BINDING,
    app_data: {
      ui_data: {
        label: 'Binding',
        description: 'Supernode binding node',
        x_pos: Math.round(position.x),
        y_pos: Math.round(position.y)
      }
    }
  };
  if (ports.inputs) {
    node.inputs = ports.inputs;
  }
  if (ports.outputs) {
    node.outputs = ports.outputs;
  }
  return node;
}

/** The links into a node's input ports, with the port they go into. */
function inputLinks(
  node: IElyraNode
): { port: IElyraPort; link: IElyraLink }[] {
  const out: { port: IElyraPort; link: IElyraLink }[] = [];
  for (const port of Array.isArray(node.inputs) ? node.inputs : []) {
    if (isObject(port) && Array.isArray(port.links)) {
      for (const link of port.links) {
        if (isObject(link) && typeof link.node_id_ref === 'string') {
          out.push({ port: port as IElyraPort, link: link as IElyraLink });
        }
      }
    }
  }
  return out;
}

/** The result of grouping nodes into a supernode. */
export interface IGrouped {
  supernode: IElyraNode;
  pipeline: IElyraPipeline;
}

/**
 * Move the nodes `ids` of `parent` into a new pipeline held by a new
 * supernode, like Elyra's "Create supernode": links that cross the border go
 * through supernode ports and binding nodes. Mutates `doc`; returns null when
 * none of `ids` is a node of `parent`.
 */
export function groupIntoSupernode(
  doc: IPipelineDocument,
  parent: IElyraPipeline,
  ids: Iterable<string>,
  options: { label?: string; supernodeId?: string; pipelineId?: string } = {}
): IGrouped | null {
  const wanted = new Set(ids);
  const all = nodesOf(parent);
  const moved = all.filter(n => wanted.has(n.id) && !isBinding(n));
  if (!moved.length) {
    return null;
  }
  const movedIds = new Set(moved.map(n => n.id));
  const supernodeId = options.supernodeId ?? uuid();
  const pipelineId = options.pipelineId ?? uuid();
  const points = moved.map(nodePosition);
  const minX = Math.min(...points.map(p => p.x));
  const minY = Math.min(...points.map(p => p.y));
  const maxX = Math.max(...points.map(p => p.x));
  const maxY = Math.max(...points.map(p => p.y));

  const superInputs: IElyraPort[] = [];
  const superOutputs: IElyraPort[] = [];
  const bindings: IElyraNode[] = [];

  // outside -> inside: one supernode input port (and entry binding) per inner port
  for (const node of moved) {
    const byPort = new Map<IElyraPort, IElyraLink[]>();
    for (const { port, link } of inputLinks(node)) {
      if (!movedIds.has(link.node_id_ref)) {
        byPort.set(port, [...(byPort.get(port) ?? []), link]);
      }
    }
    for (const [port, links] of byPort) {
      const portId = `${node.id}_${port.id ?? IN_PORT}`;
      const bindingId = uuid();
      superInputs.push({
        ...bindingPort(portId, 'Binding port for supernode'),
        subflow_node_ref: bindingId,
        links: links.map(l => ({ ...l }))
      });
      const position = nodePosition(node);
      bindings.push(
        newBinding(
          bindingId,
          { x: minX - 160, y: position.y },
          {
            outputs: [
              bindingPort(`output_${portId}`, 'Binding port for supernode')
            ]
          }
        )
      );
      port.links = [
        ...(port.links ?? []).filter(
          (l: IElyraLink) => !(isObject(l) && links.includes(l))
        ),
        { id: uuid(), node_id_ref: bindingId, port_id_ref: `output_${portId}` }
      ];
    }
  }

  // inside -> outside: one supernode output port (and exit binding) per inner port
  const outsiders = all.filter(n => !movedIds.has(n.id));
  const exits = new Map<string, string>(); // `${node}_${port}` -> supernode port id
  for (const target of outsiders) {
    for (const { link } of inputLinks(target)) {
      if (!movedIds.has(link.node_id_ref)) {
        continue;
      }
      const source = moved.find(n => n.id === link.node_id_ref)!;
      const sourcePort = link.port_id_ref ?? outputPortId(source);
      const key = `${source.id}_${sourcePort}`;
      let portId = exits.get(key);
      if (!portId) {
        portId = key;
        exits.set(key, portId);
        const bindingId = uuid();
        superOutputs.push({
          ...bindingPort(portId, 'Binding port for supernode'),
          subflow_node_ref: bindingId
        });
        const position = nodePosition(source);
        bindings.push(
          newBinding(
            bindingId,
            { x: maxX + 260, y: position.y },
            {
              inputs: [
                {
                  ...bindingPort(
                    `input_${portId}`,
                    'Binding port for supernode'
                  ),
                  links: [
                    {
                      id: uuid(),
                      node_id_ref: source.id,
                      port_id_ref: sourcePort
                    }
                  ]
                }
              ]
            }
          )
        );
      }
      link.node_id_ref = supernodeId;
      link.port_id_ref = portId;
    }
  }

  const supernode: IElyraNode = {
    id: supernodeId,
    type: SUPER_NODE,
    subflow_ref: { pipeline_id_ref: pipelineId },
    app_data: {
      ui_data: {
        label: options.label ?? 'Supernode',
        image: 'useDefaultIcon',
        x_pos: Math.round(minX),
        y_pos: Math.round((minY + maxY) / 2),
        description: 'Nodes grouped into a supernode',
        is_expanded: false,
        expanded_width: EXPANDED_SIZE.width,
        expanded_height: EXPANDED_SIZE.height
      }
    },
    inputs: superInputs,
    outputs: superOutputs
  };
  const pipeline: IElyraPipeline = {
    id: pipelineId,
    nodes: [...moved, ...bindings],
    app_data: { ui_data: { comments: [] } }
  };
  if (typeof parent.runtime_ref === 'string') {
    pipeline.runtime_ref = parent.runtime_ref;
  }
  parent.nodes = [...all.filter(n => !movedIds.has(n.id)), supernode];
  // comments stay outside; they no longer point at the moved nodes
  const comments = parent.app_data?.ui_data?.comments;
  if (Array.isArray(comments)) {
    for (const comment of comments) {
      if (isObject(comment) && Array.isArray(comment.associated_id_refs)) {
        comment.associated_id_refs = comment.associated_id_refs.filter(
          (r: IJSONObject) => !movedIds.has(r?.node_ref)
        );
      }
    }
  }
  ensureArray<IElyraPipeline>(doc, 'pipelines').push(pipeline);
  return { supernode, pipeline };
}

/**
 * Put a supernode's nodes back into `parent` in its place, links through its
 * ports and bindings joined up again; its pipeline leaves the document.
 * Mutates `doc`; returns the ids of the nodes moved out, or null.
 */
export function ungroupSupernode(
  doc: IPipelineDocument,
  parent: IElyraPipeline,
  supernodeId: string
): string[] | null {
  const all = nodesOf(parent);
  const supernode = all.find(n => n.id === supernodeId);
  const sub =
    supernode && isSupernode(supernode) ? subflow(doc, supernode) : undefined;
  if (!supernode || !sub) {
    return null;
  }
  const subNodes = nodesOf(sub);
  const bindingIds = new Set(subNodes.filter(isBinding).map(n => n.id));
  const inner = subNodes.filter(n => !isBinding(n));
  const superInputs = (
    Array.isArray(supernode.inputs) ? supernode.inputs : []
  ).filter(isObject);
  const superOutputs = (
    Array.isArray(supernode.outputs) ? supernode.outputs : []
  ).filter(isObject);

  // the supernode input ports a link from an entry binding stands for
  const inputsFor = (link: IElyraLink): IJSONObject[] => {
    const port = typeof link.port_id_ref === 'string' ? link.port_id_ref : '';
    const named = port.startsWith('output_')
      ? superInputs.filter(p => p.id === port.slice('output_'.length))
      : [];
    return named.length
      ? named
      : superInputs.filter(p => p.subflow_node_ref === link.node_id_ref);
  };
  for (const node of inner) {
    for (const port of Array.isArray(node.inputs) ? node.inputs : []) {
      if (!isObject(port) || !Array.isArray(port.links)) {
        continue;
      }
      const next: IElyraLink[] = [];
      for (const link of port.links) {
        if (isObject(link) && bindingIds.has(link.node_id_ref)) {
          for (const superPort of inputsFor(link as IElyraLink)) {
            for (const outer of Array.isArray(superPort.links)
              ? superPort.links
              : []) {
              if (isObject(outer)) {
                next.push({ ...(outer as IElyraLink), id: uuid() });
              }
            }
          }
        } else {
          next.push(link);
        }
      }
      port.links = next;
    }
  }

  // links out of the supernode: from the inner node that feeds the exit binding
  const sourcesFor = (
    portId: string | undefined
  ): { node: string; port: string }[] => {
    const ports = portId
      ? superOutputs.filter(p => p.id === portId)
      : superOutputs;
    const found: { node: string; port: string }[] = [];
    for (const superPort of ports) {
      const binding = subNodes.find(n => n.id === superPort.subflow_node_ref);
      for (const { link } of binding ? inputLinks(binding) : []) {
        if (!bindingIds.has(link.node_id_ref)) {
          found.push({
            node: link.node_id_ref,
            port: link.port_id_ref ?? OUT_PORT
          });
        }
      }
    }
    return found;
  };
  const outsiders = all.filter(n => n.id !== supernodeId);
  for (const target of outsiders) {
    for (const port of Array.isArray(target.inputs) ? target.inputs : []) {
      if (!isObject(port) || !Array.isArray(port.links)) {
        continue;
      }
      const next: IElyraLink[] = [];
      for (const link of port.links) {
        if (isObject(link) && link.node_id_ref === supernodeId) {
          for (const source of sourcesFor(link.port_id_ref)) {
            next.push({
              id: uuid(),
              node_id_ref: source.node,
              port_id_ref: source.port
            });
          }
        } else {
          next.push(link);
        }
      }
      port.links = next;
    }
  }

  // place the nodes where the supernode was
  const points = inner.map(nodePosition);
  const at = nodePosition(supernode);
  const minX = points.length ? Math.min(...points.map(p => p.x)) : 0;
  const minY = points.length ? Math.min(...points.map(p => p.y)) : 0;
  inner.forEach((node, i) =>
    setNodePosition(node, {
      x: at.x + points[i].x - minX,
      y: at.y + points[i].y - minY
    })
  );
  parent.nodes = [...outsiders, ...inner];
  doc.pipelines = doc.pipelines.filter(p => p !== sub);
  return inner.map(n => n.id);
}

/**
 * Drop the pipelines of removed supernodes (and theirs, recursively) that no
 * remaining supernode holds. Mutates `doc`.
 */
export function dropSubflows(
  doc: IPipelineDocument,
  removed: readonly IElyraNode[]
): void {
  const doomed = new Set<string>();
  const visit = (node: IElyraNode) => {
    const id = subflowId(node);
    if (!isSupernode(node) || !id || doomed.has(id)) {
      return;
    }
    doomed.add(id);
    nodesOf(findPipeline(doc, id)).forEach(visit);
  };
  removed.forEach(visit);
  if (!doomed.size) {
    return;
  }
  const kept = new Set<string>();
  for (const pipeline of doc.pipelines) {
    if (!isObject(pipeline) || doomed.has(pipeline.id)) {
      continue;
    }
    for (const node of nodesOf(pipeline)) {
      const id = subflowId(node);
      if (isSupernode(node) && id) {
        kept.add(id);
      }
    }
  }
  doc.pipelines = doc.pipelines.filter(
    p => !(isObject(p) && doomed.has(p.id) && !kept.has(p.id))
  );
}

/**
 * The pipelines nodes' supernodes hold, recursively (for copying them along).
 */
export function subflowsOf(
  doc: IPipelineDocument,
  nodes: readonly IElyraNode[]
): IElyraPipeline[] {
  const out: IElyraPipeline[] = [];
  const seen = new Set<string>();
  const visit = (node: IElyraNode) => {
    const sub = isSupernode(node) ? subflow(doc, node) : undefined;
    if (!sub || seen.has(sub.id)) {
      return;
    }
    seen.add(sub.id);
    out.push(sub);
    nodesOf(sub).forEach(visit);
  };
  nodes.forEach(visit);
  return out;
}
