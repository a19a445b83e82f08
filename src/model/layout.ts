/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Left-to-right automatic layout of a pipeline graph with elkjs (layered
 * algorithm). elkjs is loaded on first use, so it stays out of the start-up code.
 */

import type { IEdge } from './graph';

/** A node to place: its id and size in canvas pixels. */
export interface ILayoutNode {
  id: string;
  width: number;
  height: number;
}

/** Spacing of the layout, in canvas pixels. */
export interface ILayoutOptions {
  /** Between nodes of the same layer. */
  nodeSpacing?: number;
  /** Between layers (columns). */
  layerSpacing?: number;
  /** Top-left corner of the laid-out graph. */
  origin?: { x: number; y: number };
}

let elkPromise: Promise<any> | null = null;

async function elk(): Promise<any> {
  if (!elkPromise) {
    elkPromise = import('elkjs/lib/elk.bundled.js').then(module => {
      const ELK = (module as any).default ?? module;
      return new ELK();
    });
  }
  return elkPromise;
}

/**
 * Top-left positions for `nodes`, laid out in layers from left to right
 * along `edges` (edges between unknown nodes are ignored).
 */
export async function layoutLeftToRight(
  nodes: readonly ILayoutNode[],
  edges: readonly IEdge[],
  options: ILayoutOptions = {}
): Promise<Map<string, { x: number; y: number }>> {
  const positions = new Map<string, { x: number; y: number }>();
  if (!nodes.length) {
    return positions;
  }
  const known = new Set(nodes.map(n => n.id));
  const graph = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.spacing.nodeNode': String(options.nodeSpacing ?? 40),
      'elk.layered.spacing.nodeNodeBetweenLayers': String(
        options.layerSpacing ?? 80
      ),
      'elk.spacing.componentComponent': String(options.nodeSpacing ?? 40),
      'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES'
    },
    children: nodes.map(n => ({ id: n.id, width: n.width, height: n.height })),
    edges: edges
      .filter(e => known.has(e.source) && known.has(e.target))
      .map((e, i) => ({
        id: `e${i}`,
        sources: [e.source],
        targets: [e.target]
      }))
  };
  const result = await (await elk()).layout(graph);
  const origin = options.origin ?? { x: 0, y: 0 };
  const children: { id: string; x?: number; y?: number }[] =
    result.children ?? [];
  // ELK pads the graph: put its top-left corner exactly at the origin
  const minX = Math.min(...children.map(c => c.x ?? 0));
  const minY = Math.min(...children.map(c => c.y ?? 0));
  for (const child of children) {
    positions.set(child.id, {
      x: Math.round(origin.x + (child.x ?? 0) - minX),
      y: Math.round(origin.y + (child.y ?? 0) - minY)
    });
  }
  return positions;
}
