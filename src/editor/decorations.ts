/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Status badges other features put on canvas nodes (a run's per-node state),
 * kept apart from the pipeline model: they are not part of the document,
 * never dirty it and are not undone. Each editor has its own
 * (`IPipelineEditor.decorations`, reached through `IPipelineEditorTracker`).
 */

import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

/** A badge on one node. */
export interface INodeDecoration {
  /** Machine state, styled through `data-status` (e.g. `running`, `failed`). */
  status: string;
  /** The word shown on the badge (translated). */
  label: string;
  /** Longer text for the tooltip. */
  title?: string;
}

/** The badges of one editor's nodes. */
export class NodeDecorations {
  /** Emitted when any badge changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The badge of a node, if any. */
  get(nodeId: string): INodeDecoration | undefined {
    return this._items.get(nodeId);
  }

  /** Whether any node has a badge. */
  get size(): number {
    return this._items.size;
  }

  /** Replace all badges (only emits when something differs). */
  set(items: Map<string, INodeDecoration>): void {
    if (sameItems(this._items, items)) {
      return;
    }
    this._items = new Map(items);
    this._changed.emit();
  }

  /** Remove every badge. */
  clear(): void {
    this.set(new Map());
  }

  private _items = new Map<string, INodeDecoration>();
  private _changed = new Signal<this, void>(this);
}

function sameItems(
  a: Map<string, INodeDecoration>,
  b: Map<string, INodeDecoration>
): boolean {
  if (a.size !== b.size) {
    return false;
  }
  for (const [id, item] of b) {
    const old = a.get(id);
    if (
      !old ||
      old.status !== item.status ||
      old.label !== item.label ||
      old.title !== item.title
    ) {
      return false;
    }
  }
  return true;
}

/** The badges of an editor, re-rendering the caller when they change. */
export function useNodeDecorations(
  decorations: NodeDecorations
): [NodeDecorations, number] {
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTick(t => t + 1);
    decorations.changed.connect(bump);
    return () => {
      decorations.changed.disconnect(bump);
    };
  }, [decorations]);
  return [decorations, tick];
}
