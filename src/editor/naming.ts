/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * A pipeline's name follows its file (as in Elyra): it is the file's name on
 * creation, and renaming or "saving as" the file renames the pipeline, unless
 * the user gave it a name of their own. The name is what the DAG id derives
 * from, so a pipeline left named "untitled" (or named like the file it was
 * copied from) would publish over another one. Pure functions.
 */

import { pipelineNameFromPath } from '../pipelineFile';

/** Names a new pipeline file gets before the user chose one. */
const PLACEHOLDER = /^untitled\d*$/i;

/** Whether a pipeline named `name` in `path` follows its file name. */
export function followsFile(name: string, path: string): boolean {
  const trimmed = name.trim();
  return (
    !trimmed ||
    trimmed === pipelineNameFromPath(path) ||
    PLACEHOLDER.test(trimmed)
  );
}

/**
 * The pipeline's new name after its file moved from `oldPath` to `newPath`,
 * or null when the name stays (the user named it, or the stem did not change).
 */
export function nameAfterRename(
  name: string,
  oldPath: string,
  newPath: string
): string | null {
  const next = pipelineNameFromPath(newPath);
  if (next === name || !followsFile(name, oldPath)) {
    return null;
  }
  return next;
}

/**
 * Whether `name` is taken from another pipeline file beside this one (e.g.
 * the file this one was copied from): both would get the same DAG id.
 *
 * @param siblings file names in the pipeline's folder
 */
export function nameOfAnotherFile(
  name: string,
  path: string,
  siblings: readonly string[]
): string | null {
  const own = pipelineNameFromPath(path);
  if (!name || name === own) {
    return null;
  }
  const other = siblings.find(
    file => file !== `${own}.pipeline` && pipelineNameFromPath(file) === name
  );
  return other && other.toLowerCase().endsWith('.pipeline') ? other : null;
}

/**
 * Tab labels for open pipelines: the file name, with as many parent folders
 * as it takes to tell apart two files of the same name.
 *
 * @param paths the open pipelines' paths (from the server root)
 * @returns the label of each path
 */
export function distinctLabels(paths: readonly string[]): Map<string, string> {
  const parts = new Map(paths.map(p => [p, p.split('/').filter(Boolean)]));
  const depth = new Map(paths.map(p => [p, 1]));
  const label = (p: string) => parts.get(p)!.slice(-depth.get(p)!).join('/');
  for (let round = 0; round < 32; round++) {
    const byLabel = new Map<string, string[]>();
    for (const p of new Set(paths)) {
      const key = label(p);
      byLabel.set(key, [...(byLabel.get(key) ?? []), p]);
    }
    let grew = false;
    for (const group of byLabel.values()) {
      if (group.length < 2) {
        continue;
      }
      for (const p of group) {
        if (depth.get(p)! < parts.get(p)!.length) {
          depth.set(p, depth.get(p)! + 1);
          grew = true;
        }
      }
    }
    if (!grew) {
      break;
    }
  }
  return new Map(paths.map(p => [p, label(p)]));
}
