/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Turns the server's JSON Schemas (draft 2020-12, `$ref`s inlined) into what
 * JupyterLab's form component (react-jsonschema-form) renders well, with a
 * matching UI schema. Pure functions.
 */

import { IJSONObject, isObject } from '../model/elyra';

/**
 * Names of mlpipe-lab's form widgets (in the `IFormWidgetRegistry`). A schema
 * property picks one with `"x-mlpipe-widget": "<name>"`; the first three are
 * also chosen from the property's shape. rjsf's own widget names (`textarea`,
 * `hidden`...) work too.
 */
export namespace FormWidgets {
  /** Number-or-string quantities such as CPU (`0.5`, `500m`) and memory (`8`, `512Mi`). */
  export const quantity = 'quantity';
  /** A scalar that may be a string, a number or a boolean. */
  export const scalar = 'scalar';
  /** An operator or component argument, typed by its `x-mlpipe-value-type`. */
  export const operatorArg = 'operator-arg';
  /** A write-only secret: "set / change", never shown. */
  export const secret = 'secret';
  /** A runtime image chosen from the catalog. */
  export const runtimeImage = 'runtime-image';
  /** A file relative to the pipeline, with a "Browse" button. */
  export const file = 'file';
  /** A registered model name from the MLflow registry (live list). */
  export const mlflowModel = 'mlflow-model';
  /** A version of the chosen registered model (live list). */
  export const mlflowVersion = 'mlflow-version';
  /** An alias of the chosen registered model (live list). */
  export const mlflowAlias = 'mlflow-alias';
  /** Where a value comes from: a pipeline parameter or an upstream node's result. */
  export const valueFrom = 'value-from';
  /** A branch node's rules: comparison, value, which linked nodes run. */
  export const branchRules = 'branch-rules';
  /** Some of the nodes linked after a branch (its "otherwise" list). */
  export const branchTargets = 'branch-targets';
  /** A runner node's fan-out: the list, max parallel, the item's parameter. */
  export const forEach = 'for-each';
}

/**
 * The rjsf field that renders a widget of the registry for an object, a list
 * of objects or a `oneOf` (rjsf only gives widgets to scalars and simple
 * lists); the widget's name is in `ui:options.mlpipeWidget`.
 */
export const WIDGET_FIELD = 'mlpipe-widget';

/** Whether rjsf gives a schema's value to a widget on its own. */
function takesWidget(schema: IJSONObject): boolean {
  const type = schema.type;
  if (typeof type === 'string' && type !== 'object' && type !== 'array') {
    // a scalar (e.g. a component argument typed as text): as before
    return true;
  }
  if (type === 'array') {
    const items = schema.items;
    return !(isObject(items) && (items.type === 'object' || items.properties));
  }
  if (type === 'object' || isObject(schema.properties)) {
    return false;
  }
  return !(schema.oneOf || schema.anyOf);
}

/** The UI schema options that render `schema` with the registry widget `name`. */
export function widgetOptions(schema: IJSONObject, name: string): IJSONObject {
  return takesWidget(schema)
    ? { 'ui:widget': name }
    : {
        'ui:field': WIDGET_FIELD,
        'ui:fieldReplacesAnyOrOneOf': true,
        'ui:options': { mlpipeWidget: name }
      };
}

/** The schema at a `/`-separated property path, if any. */
export function propertyAt(
  schema: IJSONObject,
  path: string
): IJSONObject | null {
  let current: unknown = schema;
  for (const part of path.split('/').filter(Boolean)) {
    if (!isObject(current) || !isObject(current.properties)) {
      return null;
    }
    current = current.properties[part];
  }
  return isObject(current) ? current : null;
}

/**
 * Give the property at `path` the widget `name` unless the schema already
 * chose one (e.g. the control flow properties when the server's schema names
 * no widget for them).
 */
export function setWidgetAt(
  form: IFormSchema,
  path: string,
  name: string
): boolean {
  const schema = propertyAt(form.schema, path);
  if (!schema) {
    return false;
  }
  let ui = form.uiSchema;
  for (const part of path.split('/').filter(Boolean)) {
    ui = ui?.[part];
  }
  if (ui && (ui['ui:widget'] || ui['ui:field'])) {
    return false;
  }
  const options = widgetOptions(schema, name);
  if (options['ui:field']) {
    // the widget owns the whole value: rjsf must not look inside (see `opaqueSchema`)
    const parts = path.split('/').filter(Boolean);
    const last = parts.pop()!;
    const parent = parts.length
      ? propertyAt(form.schema, parts.join('/'))
      : form.schema;
    parent!.properties = {
      ...parent!.properties,
      [last]: opaqueSchema(schema)
    };
    let parentUi = form.uiSchema;
    for (const part of parts) {
      parentUi = parentUi[part] ??= {};
    }
    parentUi[last] = options;
    return true;
  }
  setUiOption(form.uiSchema, path, options);
  return true;
}

/** The key under which an opaque schema keeps the property's own schema. */
export const OWN_SCHEMA = 'x-mlpipe-schema';

/**
 * A schema rjsf treats as one opaque value (for a widget that edits the whole
 * object or list): its type, title and description, the rest kept under
 * `x-mlpipe-schema` for the widget. rjsf otherwise works on the inside of the
 * value on each change — e.g. it drops the keys of a `oneOf` branch it did
 * not pick — and would undo what the widget wrote.
 */
export function opaqueSchema(schema: IJSONObject): IJSONObject {
  const type =
    schema.type === 'array' || (schema.type === undefined && schema.items)
      ? 'array'
      : 'object';
  const out: IJSONObject = { type, [OWN_SCHEMA]: schema };
  for (const key of ['title', 'description', 'readOnly']) {
    if (key in schema) {
      out[key] = schema[key];
    }
  }
  return out;
}

/** Schema annotations the forms read (the server's schemas carry them). */
export namespace Annotations {
  /** The widget of a property (a name in the `IFormWidgetRegistry`). */
  export const widget = 'x-mlpipe-widget';
  /** The order of an object's properties (names; `*` for the rest). */
  export const order = 'x-mlpipe-order';
}

/** A schema and its UI schema, ready for the form component. */
export interface IFormSchema {
  schema: IJSONObject;
  uiSchema: IJSONObject;
}

/** Options of `toFormSchema`. */
export interface IFormSchemaOptions {
  /** Drop properties marked `readOnly` (set by the server). */
  dropReadOnly?: boolean;
  /** Drop the top-level `allOf` (e.g. conditionals handled by the caller). */
  dropTopLevelAllOf?: boolean;
}

const DROPPED_KEYWORDS = ['$schema', '$id', '$defs', 'definitions', '$comment'];

/** Deep-merge object schemas of an `allOf` without conditionals. */
function mergeSchemas(parts: IJSONObject[]): IJSONObject {
  const out: IJSONObject = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (key === 'required' && Array.isArray(value)) {
        out.required = [...new Set([...(out.required ?? []), ...value])];
      } else if (key === 'properties' && isObject(value)) {
        const props: IJSONObject = { ...(out.properties ?? {}) };
        for (const [name, sub] of Object.entries(value)) {
          props[name] =
            isObject(props[name]) && isObject(sub)
              ? mergeSchemas([props[name], sub])
              : sub;
        }
        out.properties = props;
      } else {
        out[key] = value;
      }
    }
  }
  return out;
}

/** Whether every part of an `allOf` can simply be merged (no conditionals). */
function mergeable(parts: unknown[]): parts is IJSONObject[] {
  return parts.every(
    p => isObject(p) && !('if' in p) && !('not' in p) && !('oneOf' in p)
  );
}

/** Whether `oneOf` lists constants (a select box). */
function isConstChoice(options: unknown): boolean {
  return (
    Array.isArray(options) &&
    options.length > 0 &&
    options.every(o => isObject(o) && 'const' in o)
  );
}

/** The scalar JSON types a schema accepts when it lists several types. */
function multiType(schema: IJSONObject): string[] | null {
  if (!Array.isArray(schema.type)) {
    return null;
  }
  const types = schema.type.filter((t: string) => t !== 'null');
  return types.length > 1 ? types : null;
}

/**
 * Rewrite a schema for the form component:
 * - `allOf` without conditionals merged; `default`s removed (so opening a form
 *   never writes defaults into the file) and shown as placeholders instead;
 * - number-or-string `oneOf`s become a quantity field, multi-type scalars a scalar field;
 * - `writeOnly` strings become secret fields; `readOnly` properties may be dropped.
 */
export function toFormSchema(
  source: IJSONObject,
  options: IFormSchemaOptions = {}
): IFormSchema {
  const uiSchema: IJSONObject = {};
  const schema = rewrite(source, uiSchema, options, true);
  // the panel or dialog around the form already says what it is
  delete schema.title;
  delete schema.description;
  return { schema, uiSchema };
}

function rewrite(
  input: IJSONObject,
  ui: IJSONObject,
  options: IFormSchemaOptions,
  top = false
): IJSONObject {
  let schema: IJSONObject = { ...input };
  for (const key of DROPPED_KEYWORDS) {
    delete schema[key];
  }
  if (Array.isArray(schema.allOf)) {
    if (top && options.dropTopLevelAllOf) {
      delete schema.allOf;
    } else if (mergeable(schema.allOf)) {
      const { allOf, ...rest } = schema;
      schema = mergeSchemas([rest, ...allOf]);
    }
  }

  const widget = schema[Annotations.widget];
  delete schema[Annotations.widget];
  const order = schema[Annotations.order];
  delete schema[Annotations.order];

  if ('default' in schema) {
    const value = schema.default;
    delete schema.default;
    if (
      value !== null &&
      typeof value !== 'object' &&
      typeof value !== 'boolean' &&
      value !== ''
    ) {
      ui['ui:placeholder'] = String(value);
    }
  }

  if (Array.isArray(schema.oneOf) && !isConstChoice(schema.oneOf)) {
    const types = schema.oneOf.map((o: IJSONObject) => o?.type);
    if (types.includes('number') && types.includes('string')) {
      const { oneOf, ...rest } = schema;
      void oneOf;
      schema = { ...rest, type: 'string' };
      ui['ui:widget'] = FormWidgets.quantity;
    }
  }
  const types = multiType(schema);
  if (types) {
    schema = { ...schema, type: 'string' };
    ui['ui:widget'] = FormWidgets.scalar;
  }
  if (schema.writeOnly === true) {
    ui['ui:widget'] = FormWidgets.secret;
  }
  if (types?.includes('array')) {
    // e.g. a parameter's default when parameters may be lists: JSON lists are typed
    ui['ui:options'] = { ...(ui['ui:options'] ?? {}), jsonList: true };
  }
  if (typeof widget === 'string' && widget) {
    const chosen = widgetOptions(schema, widget);
    Object.assign(ui, chosen);
    if (chosen['ui:field']) {
      return opaqueSchema(schema);
    }
  }
  if (schema.readOnly === true && !options.dropReadOnly) {
    ui['ui:readonly'] = true;
  }

  if (isObject(schema.properties)) {
    const props: IJSONObject = {};
    for (const [name, sub] of Object.entries(schema.properties)) {
      if (!isObject(sub)) {
        continue;
      }
      if (options.dropReadOnly && sub.readOnly === true) {
        continue;
      }
      const subUi: IJSONObject = {};
      props[name] = rewrite(sub, subUi, options);
      if (Object.keys(subUi).length) {
        ui[name] = { ...(ui[name] ?? {}), ...subUi };
      }
    }
    schema.properties = props;
    if (Array.isArray(schema.required)) {
      schema.required = schema.required.filter((r: string) => r in props);
    }
    if (Array.isArray(order)) {
      // the form component refuses an order naming absent properties
      const names = order.filter(
        (n: unknown) => n === '*' || (typeof n === 'string' && n in props)
      );
      ui['ui:order'] = names.includes('*') ? names : [...names, '*'];
    }
  }
  if (isObject(schema.items)) {
    const itemUi: IJSONObject = {};
    schema.items = rewrite(schema.items, itemUi, options);
    if (Object.keys(itemUi).length) {
      ui.items = itemUi;
    }
  }
  if (Array.isArray(schema.allOf)) {
    schema.allOf = schema.allOf.map((part: unknown) =>
      isObject(part) ? rewriteConditional(part, options) : part
    );
  }
  return schema;
}

/** Keep `if`/`then`/`else` parts usable: rewrite their sub-schemas without UI hints. */
function rewriteConditional(
  part: IJSONObject,
  options: IFormSchemaOptions
): IJSONObject {
  const out: IJSONObject = { ...part };
  for (const key of ['if', 'then', 'else']) {
    if (isObject(part[key])) {
      out[key] = rewrite(part[key], {}, options);
    }
  }
  return out;
}

/** Set `ui` options at a `/`-separated property path of a UI schema. */
export function setUiOption(
  uiSchema: IJSONObject,
  path: string,
  options: IJSONObject
): void {
  let target = uiSchema;
  for (const part of path.split('/').filter(Boolean)) {
    if (!isObject(target[part])) {
      target[part] = {};
    }
    target = target[part];
  }
  Object.assign(target, options);
}

/** Whether a schema has a property at a `/`-separated path. */
export function hasProperty(schema: IJSONObject, path: string): boolean {
  let current: unknown = schema;
  for (const part of path.split('/').filter(Boolean)) {
    if (!isObject(current) || !isObject(current.properties)) {
      return false;
    }
    current = current.properties[part];
  }
  return isObject(current);
}

/**
 * Drop `required` inside optional objects (recursively, conditionals included).
 *
 * The form marks required fields as required HTML inputs even when the object
 * holding them is optional and left empty, which would block the dialog; the
 * server still checks the entry and reports what is missing.
 */
export function relaxOptionalSections(
  schema: IJSONObject,
  required = true
): IJSONObject {
  const out: IJSONObject = { ...schema };
  if (!required) {
    delete out.required;
    if (Array.isArray(out.allOf)) {
      out.allOf = out.allOf.map((part: unknown) => {
        if (!isObject(part)) {
          return part;
        }
        const copy: IJSONObject = { ...part };
        for (const key of ['then', 'else']) {
          if (isObject(copy[key])) {
            copy[key] = { ...copy[key] };
            delete copy[key].required;
          }
        }
        return copy;
      });
    }
  }
  if (isObject(out.properties)) {
    const own: string[] = Array.isArray(out.required) ? out.required : [];
    const props: IJSONObject = {};
    for (const [name, sub] of Object.entries(out.properties)) {
      props[name] = isObject(sub)
        ? relaxOptionalSections(sub, required && own.includes(name))
        : sub;
    }
    out.properties = props;
  }
  return out;
}
