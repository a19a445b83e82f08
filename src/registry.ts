/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The registries behind the extension-point tokens (see `tokens.ts`): plain
 * classes, one instance each, made by the `mlpipe-lab:registry` plugin.
 */

import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import type { Widget as FormWidget } from '@rjsf/utils';

import type {
  IFormWidgetRegistry,
  INodeType,
  INodeTypeRegistry,
  ISubmitFollowUp,
  ISubmitFollowUps
} from './tokens';

const DEFAULT_RANK = 100;

/** Node types by `op`. */
export class NodeTypeRegistry implements INodeTypeRegistry {
  /**
   * @param defaultCategory the palette group of types that name none (translated)
   */
  constructor(readonly defaultCategory = 'Nodes') {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  add(type: INodeType): IDisposable {
    this._types.set(type.op, type);
    this._sorted = null;
    this._changed.emit();
    return new DisposableDelegate(() => {
      if (this._types.get(type.op) === type) {
        this._types.delete(type.op);
        this._sorted = null;
        this._changed.emit();
      }
    });
  }

  get(op: string | undefined): INodeType | undefined {
    return op === undefined ? undefined : this._types.get(op);
  }

  list(): readonly INodeType[] {
    if (!this._sorted) {
      // categories in the order their first type was added; the default one first
      const order = new Map<string, number>([[this.defaultCategory, 0]]);
      for (const type of this._types.values()) {
        const category = this.category(type);
        if (!order.has(category)) {
          order.set(category, order.size);
        }
      }
      this._sorted = [...this._types.values()].sort(
        (a, b) =>
          order.get(this.category(a))! - order.get(this.category(b))! ||
          (a.rank ?? DEFAULT_RANK) - (b.rank ?? DEFAULT_RANK)
      );
    }
    return this._sorted;
  }

  /** The palette group of a type. */
  category(type: INodeType): string {
    return type.category ?? this.defaultCategory;
  }

  forPath(path: string): INodeType | undefined {
    const lower = path.toLowerCase();
    // the longest matching ending wins (".tar.gz" before ".gz")
    let best: INodeType | undefined;
    let length = 0;
    for (const type of this._types.values()) {
      for (const ext of type.extensions ?? []) {
        if (lower.endsWith(ext.toLowerCase()) && ext.length > length) {
          best = type;
          length = ext.length;
        }
      }
    }
    return best;
  }

  /** Whether nodes of `op` run a file. */
  runsFile(op: string | undefined): boolean {
    const type = this.get(op);
    return type ? (type.runsFile ?? !!type.extensions?.length) : true;
  }

  private _types = new Map<string, INodeType>();
  private _sorted: INodeType[] | null = null;
  private _changed = new Signal<this, void>(this);
}

/** Form widgets by name. */
export class FormWidgetRegistry implements IFormWidgetRegistry {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  add(name: string, widget: FormWidget): IDisposable {
    this._widgets = { ...this._widgets, [name]: widget };
    this._changed.emit();
    return new DisposableDelegate(() => {
      if (this._widgets[name] === widget) {
        const { [name]: gone, ...rest } = this._widgets;
        void gone;
        this._widgets = rest;
        this._changed.emit();
      }
    });
  }

  has(name: string): boolean {
    return name in this._widgets;
  }

  /** The same object until a widget is added or removed (forms re-render on a new one). */
  widgets(): { [name: string]: FormWidget } {
    return this._widgets;
  }

  private _widgets: { [name: string]: FormWidget } = {};
  private _changed = new Signal<this, void>(this);
}

/** Follow-ups of a submit, in the order added. */
export class SubmitFollowUps implements ISubmitFollowUps {
  add(followUp: ISubmitFollowUp): IDisposable {
    this._items = [...this._items, followUp];
    return new DisposableDelegate(() => {
      this._items = this._items.filter(f => f !== followUp);
    });
  }

  list(): readonly ISubmitFollowUp[] {
    return this._items;
  }

  private _items: ISubmitFollowUp[] = [];
}
