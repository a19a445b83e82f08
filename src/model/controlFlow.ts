/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Control flow nodes (docs/control-flow.md): the branch node, the approval
 * gate and the fan-out property of runner nodes. What their forms edit, as
 * pure functions over the pipeline file's JSON, so the rules editor is tested
 * without a browser. Nodes are always offered by label, stored by id.
 */

import { IEdge } from './graph';
import { IJSONObject, isObject } from './elyra';

/** The branch node type: runs some of the nodes linked after it. */
export const BRANCH_OP = 'mlpipe:branch';

/** The approval gate node type: waits for a person's decision. */
export const APPROVAL_OP = 'mlpipe:approval';

/** Control flow node types (no file, no process). */
export const CONTROL_FLOW_OPS: readonly string[] = [BRANCH_OP, APPROVAL_OP];

/** Where a tested or mapped value comes from. */
export type ValueFrom =
  | { from: 'parameter'; parameter: string }
  | { from: 'result'; node: string; key?: string };

/** The comparisons of a branch rule. */
export const BRANCH_OPERATORS = [
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'not in',
  'is true',
  'is false'
] as const;

export type BranchOperator = (typeof BRANCH_OPERATORS)[number];

/** One rule: when the value compares true, run these nodes (ids). */
export interface IBranchRule {
  op: BranchOperator | string;
  value?: unknown;
  run: string[];
}

/** A node offered in a picker: its id (stored) and what people see. */
export interface INodeChoice {
  id: string;
  label: string;
}

/** Whether an operator compares with a value (not `is true` / `is false`). */
export function takesValue(op: string): boolean {
  return op !== 'is true' && op !== 'is false';
}

/** Whether an operator's value is a list (`in`, `not in`). */
export function takesList(op: string): boolean {
  return op === 'in' || op === 'not in';
}

/** Text typed for a scalar: numbers and booleans typed, JSON strings unquoted, the rest text. */
function parseOne(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === 'true' || trimmed === 'false') {
    return trimmed === 'true';
  }
  if (trimmed === 'null') {
    return null;
  }
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(trimmed)) {
    return Number(trimmed);
  }
  if (/^".*"$/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      // not JSON after all: the text itself
    }
  }
  return trimmed;
}

/**
 * A rule's value from what was typed: a JSON list or comma-separated items
 * for `in` / `not in`, a typed scalar otherwise (`0.9` is a number, `"0.9"`
 * the text); undefined when empty or when the operator takes no value.
 */
export function parseRuleValue(text: string, op: string): unknown {
  if (!takesValue(op)) {
    return undefined;
  }
  const trimmed = text.trim();
  if (!trimmed) {
    return undefined;
  }
  if (takesList(op)) {
    if (trimmed.startsWith('[')) {
      try {
        const parsed = JSON.parse(trimmed);
        if (Array.isArray(parsed)) {
          return parsed;
        }
      } catch {
        // fall back to comma-separated items
      }
    }
    return trimmed
      .split(',')
      .map(part => part.trim())
      .filter(part => part.length > 0)
      .map(parseOne);
  }
  return parseOne(trimmed);
}

/** The text shown for a rule's stored value (what `parseRuleValue` reads back). */
export function ruleValueText(value: unknown, op: string): string {
  if (value === undefined) {
    return '';
  }
  if (takesList(op) && Array.isArray(value)) {
    const plain = value.every(
      v =>
        typeof v === 'number' ||
        typeof v === 'boolean' ||
        (typeof v === 'string' &&
          !v.includes(',') &&
          v.trim() === v &&
          typeof parseOne(v) === 'string')
    );
    return plain ? value.map(String).join(', ') : JSON.stringify(value);
  }
  if (typeof value === 'string') {
    // a text that would read back as a number or boolean is shown quoted
    return typeof parseOne(value) === 'string' ? value : JSON.stringify(value);
  }
  return JSON.stringify(value);
}

/** The rules as stored, each a well-formed rule (what the editor shows). */
export function readRules(value: unknown): IBranchRule[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter(isObject).map(rule => {
    const out: IBranchRule = {
      op: typeof rule.op === 'string' ? rule.op : '==',
      run: Array.isArray(rule.run)
        ? rule.run.filter((id: unknown): id is string => typeof id === 'string')
        : []
    };
    if (rule.value !== undefined) {
      out.value = rule.value;
    }
    return out;
  });
}

/** A new rule (the first linked node not yet named by a rule, if any). */
export function newRule(
  rules: readonly IBranchRule[],
  children: readonly INodeChoice[]
): IBranchRule {
  const used = new Set(rules.flatMap(r => r.run));
  const free = children.find(c => !used.has(c.id));
  return { op: '==', run: free ? [free.id] : [] };
}

/** Rules with one rule replaced. */
export function updateRule(
  rules: readonly IBranchRule[],
  index: number,
  change: Partial<IBranchRule>
): IBranchRule[] {
  return rules.map((rule, i) => {
    if (i !== index) {
      return rule;
    }
    const next: IBranchRule = { ...rule, ...change };
    if (change.op !== undefined && change.op !== rule.op) {
      next.value = convertValue(rule.value, rule.op, change.op);
    }
    if (next.value === undefined) {
      delete next.value;
    }
    return next;
  });
}

/** A rule's value when its operator changes: lists and scalars convert, no value when none is taken. */
function convertValue(value: unknown, from: string, to: string): unknown {
  if (!takesValue(to) || value === undefined) {
    return undefined;
  }
  if (takesList(to) && !Array.isArray(value)) {
    return [value];
  }
  if (!takesList(to) && Array.isArray(value)) {
    return value.length ? value[0] : undefined;
  }
  void from;
  return value;
}

/** Rules without the one at `index`. */
export function removeRule(
  rules: readonly IBranchRule[],
  index: number
): IBranchRule[] {
  return rules.filter((_, i) => i !== index);
}

/** Rules with the one at `index` moved by `delta` (the first match wins, so order matters). */
export function moveRule(
  rules: readonly IBranchRule[],
  index: number,
  delta: number
): IBranchRule[] {
  const to = index + delta;
  if (index < 0 || index >= rules.length || to < 0 || to >= rules.length) {
    return [...rules];
  }
  const out = [...rules];
  const [rule] = out.splice(index, 1);
  out.splice(to, 0, rule);
  return out;
}

/**
 * A list of node ids with `id` added or removed, kept in the order of the
 * linked nodes (then ids no longer linked, as they were).
 */
export function toggleTarget(
  ids: readonly string[],
  id: string,
  on: boolean,
  children: readonly INodeChoice[]
): string[] {
  const set = new Set(ids);
  if (on) {
    set.add(id);
  } else {
    set.delete(id);
  }
  const order = children.map(c => c.id);
  const linked = order.filter(c => set.has(c));
  const stale = ids.filter(i => set.has(i) && !order.includes(i));
  return [...linked, ...stale];
}

/** Ids a rule or `otherwise` names that are no longer linked after the branch. */
export function staleTargets(
  ids: readonly string[],
  children: readonly INodeChoice[]
): string[] {
  const linked = new Set(children.map(c => c.id));
  return ids.filter(id => !linked.has(id));
}

/** Linked nodes that no rule and not `otherwise` runs (they are always skipped). */
export function unreachedChildren(
  rules: readonly IBranchRule[],
  otherwise: readonly string[],
  children: readonly INodeChoice[]
): INodeChoice[] {
  const named = new Set([...rules.flatMap(r => r.run), ...otherwise]);
  return children.filter(c => !named.has(c.id));
}

/**
 * Labels for people: a label used by several nodes gets a number, so two
 * nodes called "train" can still be told apart (ids are never shown).
 */
export function distinctLabels(
  nodes: readonly INodeChoice[]
): Map<string, string> {
  const counts = new Map<string, number>();
  for (const node of nodes) {
    counts.set(node.label, (counts.get(node.label) ?? 0) + 1);
  }
  const seen = new Map<string, number>();
  const out = new Map<string, string>();
  for (const node of nodes) {
    const label = node.label || '(unnamed)';
    if ((counts.get(node.label) ?? 0) > 1) {
      const n = (seen.get(node.label) ?? 0) + 1;
      seen.set(node.label, n);
      out.set(node.id, `${label} (${n})`);
    } else {
      out.set(node.id, label);
    }
  }
  return out;
}

/** The nodes linked directly after `id`, in the order of `nodes`. */
export function childrenOf(
  id: string,
  edges: Iterable<IEdge>,
  nodes: readonly INodeChoice[]
): INodeChoice[] {
  const targets = new Set<string>();
  for (const edge of edges) {
    if (edge.source === id) {
      targets.add(edge.target);
    }
  }
  return nodes.filter(n => targets.has(n.id));
}

/** Every node `id` depends on (directly or not), in the order of `nodes`. */
export function ancestorsOf(
  id: string,
  edges: Iterable<IEdge>,
  nodes: readonly INodeChoice[]
): INodeChoice[] {
  const parents = new Map<string, string[]>();
  for (const { source, target } of edges) {
    const list = parents.get(target);
    if (list) {
      list.push(source);
    } else {
      parents.set(target, [source]);
    }
  }
  const found = new Set<string>();
  const stack = [...(parents.get(id) ?? [])];
  while (stack.length) {
    const next = stack.pop()!;
    if (next === id || found.has(next)) {
      continue;
    }
    found.add(next);
    stack.push(...(parents.get(next) ?? []));
  }
  return nodes.filter(n => found.has(n.id));
}

/** A stored `value_from`, or null when it is not one. */
export function readValueFrom(value: unknown): ValueFrom | null {
  if (!isObject(value)) {
    return null;
  }
  if (value.from === 'parameter') {
    return {
      from: 'parameter',
      parameter: typeof value.parameter === 'string' ? value.parameter : ''
    };
  }
  if (value.from === 'result') {
    const out: ValueFrom = {
      from: 'result',
      node: typeof value.node === 'string' ? value.node : ''
    };
    if (typeof value.key === 'string' && value.key) {
      out.key = value.key;
    }
    return out;
  }
  return null;
}

/** A `value_from` switched to the other source (what was chosen there is kept when possible). */
export function switchValueFrom(
  current: ValueFrom | null,
  from: 'parameter' | 'result',
  parameters: readonly string[],
  ancestors: readonly INodeChoice[]
): ValueFrom {
  if (current?.from === from) {
    return current;
  }
  return from === 'parameter'
    ? { from, parameter: parameters[0] ?? '' }
    : { from, node: ancestors[ancestors.length - 1]?.id ?? '' };
}

/** A `value_from` in words, e.g. `parameter "mode"` or `train › metrics.accuracy`. */
export function describeValueFrom(
  value: ValueFrom | null,
  labels: Map<string, string>
): string {
  if (!value) {
    return '';
  }
  if (value.from === 'parameter') {
    return `parameter "${value.parameter}"`;
  }
  const node = labels.get(value.node) ?? value.node;
  return value.key ? `${node} › ${value.key}` : `${node} (whole result)`;
}

/** The names of the pipeline's parameters of type `list` (what a fan-out can map over). */
export function listParameters(mlpipe: IJSONObject | undefined): string[] {
  const params = mlpipe?.parameters;
  return Array.isArray(params)
    ? params
        .filter(
          p =>
            isObject(p) &&
            typeof p.name === 'string' &&
            (p.type === 'list' || p.type === 'array')
        )
        .map(p => p.name as string)
    : [];
}
