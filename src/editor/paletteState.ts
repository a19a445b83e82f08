/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The node palette's layout: its node types grouped by category, and which
 * groups the user folded. Pure functions, kept in the user's editor settings.
 */

/** The part of a node type the palette groups by. */
export interface IPaletteEntry {
  category?: string;
  hidden?: boolean;
}

/** Node types by category, in the order the categories first appear; hidden types are left out. */
export function groupPaletteEntries<T extends IPaletteEntry>(
  types: readonly T[],
  fallback: string
): [string, T[]][] {
  const groups: [string, T[]][] = [];
  for (const type of types) {
    if (type.hidden) {
      continue;
    }
    const category = type.category ?? fallback;
    const group = groups.find(g => g[0] === category);
    if (group) {
      group[1].push(type);
    } else {
      groups.push([category, [type]]);
    }
  }
  return groups;
}

/** The folded groups of a settings value: distinct non-empty strings, anything else dropped. */
export function closedPaletteGroups(raw: unknown): string[] {
  if (!Array.isArray(raw)) {
    return [];
  }
  const seen = new Set<string>();
  for (const item of raw) {
    if (typeof item === 'string' && item) {
      seen.add(item);
    }
  }
  return [...seen];
}

/** The folded groups after the user clicked a group's heading. */
export function togglePaletteGroup(
  closed: readonly string[],
  group: string
): string[] {
  return closed.includes(group)
    ? closed.filter(g => g !== group)
    : [...closed, group];
}
