/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Pure helpers between form data and the pipeline document: minimal patches
 * (so a form only writes what the user changed) and server problems as form errors.
 */

import { IJSONObject, isObject, jsonEqual } from '../model/elyra';
import type { MLPipeAPI } from '../tokens';
import { WARNING_PREFIX } from './errors';

function isEmptyContainer(value: unknown): boolean {
  return (
    (Array.isArray(value) && value.length === 0) ||
    (isObject(value) && Object.values(value).every(v => v === undefined))
  );
}

/**
 * What changed from `before` to `after`, as a patch for `mergeInto`: changed
 * keys with their new value, removed keys as `undefined`, nested objects as
 * nested patches. Empty objects and lists that did not exist before are not
 * added (the form creates them when it renders). Returns null when nothing changed.
 */
export function formPatch(
  before: IJSONObject | undefined,
  after: IJSONObject | undefined
): IJSONObject | null {
  const old = before ?? {};
  const next = after ?? {};
  const patch: IJSONObject = {};
  let changed = false;
  for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) {
    const a = old[key];
    const b = next[key];
    if (jsonEqual(a, b)) {
      continue;
    }
    if (b === undefined) {
      if (a !== undefined) {
        patch[key] = undefined;
        changed = true;
      }
      continue;
    }
    if (a === undefined && isEmptyContainer(b)) {
      continue;
    }
    if (isObject(a) && isObject(b)) {
      const sub = formPatch(a, b);
      if (sub) {
        patch[key] = sub;
        changed = true;
      }
      continue;
    }
    patch[key] = b;
    changed = true;
  }
  return changed ? patch : null;
}

/** An RJSF error schema: nested by field, messages in `__errors`. */
export interface IErrorSchema {
  __errors?: string[];
  [key: string]: IErrorSchema | string[] | undefined;
}

/**
 * Problems as an RJSF error schema (for `extraErrors`), keyed by their `path`
 * (e.g. `component_parameters/env_vars/0/value`). `prefix` is stripped first
 * and problems outside it are left out; problems without a path go to the root.
 */
export function problemsToErrorSchema(
  problems: readonly MLPipeAPI.IProblem[],
  options: { prefixes?: string[] } = {}
): IErrorSchema {
  const root: IErrorSchema = {};
  for (const problem of problems) {
    const parts = (problem.path ?? '').split('/').filter(Boolean);
    if (options.prefixes) {
      if (!parts.length || !options.prefixes.includes(parts[0])) {
        continue;
      }
    }
    let target: IErrorSchema = root;
    for (const part of parts) {
      if (!isObject(target[part])) {
        target[part] = {};
      }
      target = target[part] as IErrorSchema;
    }
    const prefix = problem.severity === 'warning' ? WARNING_PREFIX : '';
    (target.__errors ??= []).push(`${prefix}${problem.message}`);
  }
  return root;
}

/** Whether a problem belongs to the pipeline rather than a node. */
export function isPipelineProblem(problem: MLPipeAPI.IProblem): boolean {
  return !problem.node_id;
}
