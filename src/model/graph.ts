/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Pure graph helpers on the links of a pipeline.
 */

/** A directed edge between two node ids. */
export interface IEdge {
  source: string;
  target: string;
}

/** Children of every node. */
function adjacency(edges: Iterable<IEdge>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { source, target } of edges) {
    const list = out.get(source);
    if (list) {
      list.push(target);
    } else {
      out.set(source, [target]);
    }
  }
  return out;
}

/**
 * The cycle that adding `source -> target` would close, as the node ids along it
 * (starting and ending with `source`), or null when the new edge is safe.
 */
export function cycleThrough(
  edges: Iterable<IEdge>,
  source: string,
  target: string
): string[] | null {
  if (source === target) {
    return [source, source];
  }
  const children = adjacency(edges);
  // Is there a path target -> ... -> source? Breadth-first, remembering parents.
  const parent = new Map<string, string>();
  const queue = [target];
  const seen = new Set([target]);
  while (queue.length) {
    const current = queue.shift()!;
    if (current === source) {
      const path = [source];
      let step = source;
      while (step !== target) {
        step = parent.get(step)!;
        path.unshift(step);
      }
      return [source, ...path];
    }
    for (const next of children.get(current) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        parent.set(next, current);
        queue.push(next);
      }
    }
  }
  return null;
}

/** Node ids in an order where every edge goes forward; null when the graph has a cycle. */
export function topologicalOrder(
  nodes: readonly string[],
  edges: Iterable<IEdge>
): string[] | null {
  const indegree = new Map(nodes.map(id => [id, 0]));
  const list = [...edges].filter(
    e => indegree.has(e.source) && indegree.has(e.target)
  );
  for (const e of list) {
    indegree.set(e.target, indegree.get(e.target)! + 1);
  }
  const children = adjacency(list);
  const ready = nodes.filter(id => indegree.get(id) === 0);
  const order: string[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const child of children.get(id) ?? []) {
      const left = indegree.get(child)! - 1;
      indegree.set(child, left);
      if (left === 0) {
        ready.push(child);
      }
    }
  }
  return order.length === nodes.length ? order : null;
}
