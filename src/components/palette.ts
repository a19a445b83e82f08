/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Components of the component catalogs (Airflow operators, Kubeflow Pipelines
 * components) as palette entries: one node type per component, grouped by
 * catalog, whose properties form is generated from the component's schema by
 * the same form engine as every other node.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { codeIcon, extensionIcon, LabIcon } from '@jupyterlab/ui-components';
import { DisposableSet, IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IJSONObject, isObject } from '../model/elyra';
import type { ICatalogStore, INodeType, INodeTypeRegistry } from '../tokens';
import { MLPipeAPI } from '../tokens';

/** The catalog kind whose entries list components. */
export const COMPONENT_CATALOGS = 'component-catalogs';

/** Palette ranks of components start after the built-in nodes. */
const RANK_BASE = 1000;

/** The icon of a component kind. */
export function componentIcon(kind: MLPipeAPI.ComponentKind): LabIcon {
  return kind === 'kfp-component' ? extensionIcon : codeIcon;
}

/** What a component kind is called (the subtitle of its nodes). */
export function componentKindTitle(
  kind: MLPipeAPI.ComponentKind,
  trans: TranslationBundle
): string {
  return kind === 'kfp-component'
    ? trans.__('Kubeflow component')
    : kind === 'airflow-operator'
      ? trans.__('Airflow operator')
      : String(kind || trans.__('Component'));
}

/** The palette group of a catalog: its display name, else its name. */
export function catalogTitle(
  name: string,
  catalogs: readonly MLPipeAPI.ICatalogEntry[]
): string {
  const entry = catalogs.find(c => c.name === name);
  return (entry?.display_name || entry?.name || name || '').trim();
}

/**
 * The node form's schema for a component: its schema as the node's
 * `component_parameters`, with the label and the Airflow task settings
 * (`mlpipe`) every node has (taken from `base`, another node type's schema).
 * A component schema that already describes the whole node is kept, and only
 * gets what it lacks from `base`.
 */
export function componentNodeSchema(
  component: MLPipeAPI.IComponent,
  base: IJSONObject | null
): IJSONObject {
  const own = isObject(component.schema) ? component.schema : {};
  const baseProps = isObject(base?.properties) ? base!.properties : {};
  const whole =
    isObject(own.properties) && isObject(own.properties.component_parameters);
  const params: IJSONObject = whole
    ? own.properties.component_parameters
    : { type: 'object', ...own };
  const properties: IJSONObject = {};
  const label = whole
    ? (own.properties.label ?? baseProps.label)
    : baseProps.label;
  if (label) {
    properties.label = label;
  }
  const { title: ownTitle, description: ownDescription, ...rest } = params;
  void ownTitle;
  void ownDescription;
  properties.component_parameters = {
    ...argumentsSchema(rest),
    title: 'Arguments'
  };
  const mlpipe = whole
    ? (own.properties.mlpipe ?? baseProps.mlpipe)
    : baseProps.mlpipe;
  if (mlpipe) {
    properties.mlpipe = mlpipe;
  }
  if (whole) {
    for (const [key, value] of Object.entries(own.properties)) {
      if (!(key in properties)) {
        properties[key] = value;
      }
    }
  }
  return {
    type: 'object',
    title: component.label || component.id,
    ...(component.description ? { description: component.description } : {}),
    properties
  };
}

/**
 * An argument's schema for the form: booleans stay check boxes; every other
 * type is typed into the `operator-arg` widget (JSON for lists and dicts),
 * which reads the argument's JSON type from `x-mlpipe-value-type`.
 */
export function argumentFieldSchema(prop: IJSONObject): IJSONObject {
  const types = (Array.isArray(prop.type) ? prop.type : [prop.type]).filter(
    (t: unknown) => typeof t === 'string' && t !== 'null'
  );
  if (types.length === 1 && types[0] === 'boolean') {
    const { ['x-mlpipe-widget']: widget, ...rest } = prop;
    void widget;
    return { ...rest, type: 'boolean' };
  }
  const out: IJSONObject = {
    ...prop,
    type: 'string',
    'x-mlpipe-value-type': types.length === 1 ? types[0] : 'any'
  };
  // a text area only holds text; lists, dicts and numbers are typed as values
  if (
    !out['x-mlpipe-widget'] ||
    (out['x-mlpipe-widget'] === 'textarea' &&
      out['x-mlpipe-value-type'] !== 'string')
  ) {
    out['x-mlpipe-widget'] = 'operator-arg';
  }
  if (
    'default' in out &&
    out.default !== null &&
    typeof out.default === 'object'
  ) {
    // shown as the field's placeholder
    out.default = JSON.stringify(out.default);
  }
  return out;
}

/** The component's arguments, each as `argumentFieldSchema` makes it. */
function argumentsSchema(params: IJSONObject): IJSONObject {
  if (!isObject(params.properties)) {
    return params;
  }
  const properties: IJSONObject = {};
  for (const [name, prop] of Object.entries(params.properties)) {
    properties[name] = isObject(prop) ? argumentFieldSchema(prop) : prop;
  }
  return { ...params, properties };
}

/** The node type (palette entry) of a component. */
export function componentNodeType(
  component: MLPipeAPI.IComponent,
  options: {
    trans: TranslationBundle;
    category: string;
    rank: number;
    base: () => Promise<IJSONObject | null>;
  }
): INodeType {
  const kindTitle = componentKindTitle(component.kind, options.trans);
  let schema: Promise<IJSONObject> | null = null;
  return {
    op: component.id,
    title: component.label || component.id,
    description: [component.description, kindTitle].filter(Boolean).join('\n'),
    category: options.category,
    rank: options.rank,
    icon: componentIcon(component.kind),
    runsFile: false,
    subtitle: () => kindTitle,
    schema: () => {
      if (!schema) {
        schema = options
          .base()
          .catch(() => null)
          .then(base => componentNodeSchema(component, base));
      }
      return schema;
    }
  };
}

/** Options of the component palette. */
export interface IComponentPaletteOptions {
  nodeTypes: INodeTypeRegistry;
  catalogs: ICatalogStore;
  trans: TranslationBundle;
  /** Reads the components (default: the server's `GET /mlpipe-lab/components`). */
  load: () => Promise<MLPipeAPI.IComponentList>;
  /** Another node type's schema, for the label and Airflow settings of component forms. */
  baseSchema: () => Promise<IJSONObject | null>;
}

/**
 * Keeps the node type registry's component entries in step with the
 * component catalogs: every `refresh()` replaces them with what the server
 * lists now.
 */
export class ComponentPalette implements IDisposable {
  constructor(private _options: IComponentPaletteOptions) {}

  /** Emitted after each refresh (with its problems). */
  get refreshed(): ISignal<this, readonly MLPipeAPI.IProblem[]> {
    return this._refreshed;
  }

  /** What the last refresh could not read (or why it failed). */
  get problems(): readonly MLPipeAPI.IProblem[] {
    return this._problems;
  }

  /** The components of the last refresh. */
  get components(): readonly MLPipeAPI.IComponent[] {
    return this._components;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._types.dispose();
    Signal.clearData(this);
  }

  /** Read the components again and replace the palette's component entries. */
  async refresh(): Promise<readonly MLPipeAPI.IComponent[]> {
    const { load, catalogs, trans, nodeTypes } = this._options;
    let list: MLPipeAPI.IComponentList;
    try {
      list = await load();
    } catch (reason) {
      this._problems = [
        {
          message: trans.__(
            'The component catalogs cannot be read: %1',
            (reason as Error)?.message ?? String(reason)
          ),
          severity: 'error'
        }
      ];
      this._refreshed.emit(this._problems);
      return this._components;
    }
    if (this._isDisposed) {
      return [];
    }
    const entries = catalogs.items(COMPONENT_CATALOGS);
    const next = new DisposableSet();
    let base: Promise<IJSONObject | null> | null = null;
    const baseSchema = () => (base = base ?? this._options.baseSchema());
    const ids = new Set(list.components.map(c => c.id));
    const own = new Set(this._ops);
    this._ops = [];
    list.components.forEach((component, i) => {
      const type = componentNodeType(component, {
        trans,
        category:
          catalogTitle(component.catalog, entries) || trans.__('Components'),
        rank: RANK_BASE + i,
        base: baseSchema
      });
      next.add(nodeTypes.add(type));
      this._ops.push(type.op);
      // nodes Elyra saved with another id of the component: same look and form
      for (const alias of component.aliases ?? []) {
        const taken = nodeTypes.get(alias);
        if (
          typeof alias === 'string' &&
          alias &&
          !ids.has(alias) &&
          (!taken || own.has(alias))
        ) {
          next.add(nodeTypes.add({ ...type, op: alias, hidden: true }));
          this._ops.push(alias);
        }
      }
    });
    // disposing an entry that `add` replaced does nothing; gone ones are removed
    const old = this._types;
    this._types = next;
    old.dispose();
    this._components = list.components;
    this._problems = list.problems;
    this._refreshed.emit(this._problems);
    return this._components;
  }

  private _types = new DisposableSet();
  /** The ops this palette registered (its entries and their aliases). */
  private _ops: string[] = [];
  private _components: MLPipeAPI.IComponent[] = [];
  private _problems: MLPipeAPI.IProblem[] = [];
  private _isDisposed = false;
  private _refreshed = new Signal<this, readonly MLPipeAPI.IProblem[]>(this);
}
