/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Form widgets of the control flow nodes (docs/control-flow.md): where a
 * value comes from, a branch's rules and "otherwise" list, a runner node's
 * fan-out. Nodes are picked by their labels, never by id; the editing logic
 * is in `model/controlFlow.ts`.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import type { FieldProps, WidgetProps } from '@rjsf/utils';
import { getUiOptions } from '@rjsf/utils';
import * as React from 'react';

import {
  BRANCH_OPERATORS,
  IBranchRule,
  INodeChoice,
  moveRule,
  newRule,
  parseRuleValue,
  readRules,
  readValueFrom,
  removeRule,
  ruleValueText,
  staleTargets,
  switchValueFrom,
  takesList,
  takesValue,
  toggleTarget,
  unreachedChildren,
  updateRule,
  ValueFrom
} from '../model/controlFlow';
import { IJSONObject, isObject, jsonEqual } from '../model/elyra';
import type { IErrorSchema } from './patch';
import { FormWidgets, OWN_SCHEMA } from './schema';
import type { IFormContext } from './widgets';

/** What the control flow widgets read from the form context. */
export interface IControlFlowContext {
  /** Nodes this node depends on (for "result of an upstream node"), labels made distinct. */
  ancestors?: INodeChoice[];
  /** Nodes linked directly after this node (a branch's choices). */
  children?: INodeChoice[];
  /** Pipeline parameters of type list (what a fan-out can map over). */
  listParameters?: string[];
  /** The node's own `component_parameters` (the widgets see their siblings). */
  nodeParameters?: IJSONObject;
}

type Context = IFormContext & IControlFlowContext;

function context(props: WidgetProps): Context {
  return (props.registry?.formContext ?? props.formContext) as Context;
}

/** Every message at `path` in an error schema and below it. */
export function errorsBelow(
  errors: IErrorSchema | undefined,
  ...path: (string | number)[]
): string[] {
  return collectErrors(errors, path, true);
}

/** The messages below `path` but not at it (those the field's own template shows). */
export function errorsInside(
  errors: IErrorSchema | undefined,
  ...path: (string | number)[]
): string[] {
  return collectErrors(errors, path, false);
}

function collectErrors(
  errors: IErrorSchema | undefined,
  path: (string | number)[],
  root: boolean
): string[] {
  let target: unknown = errors;
  for (const part of path) {
    if (!isObject(target)) {
      return [];
    }
    target = (target as IJSONObject)[String(part)];
  }
  const out: string[] = [];
  const walk = (node: unknown, top: boolean) => {
    if (!isObject(node)) {
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === '__errors' && Array.isArray(value)) {
        if (!top || root) {
          out.push(...value.filter((v): v is string => typeof v === 'string'));
        }
      } else {
        walk(value, false);
      }
    }
  };
  walk(target, true);
  return out;
}

function Problems(props: { messages: string[] }): JSX.Element | null {
  if (!props.messages.length) {
    return null;
  }
  return (
    <ul className="error-detail jp-MLPipe-FieldProblems">
      {props.messages.map((m, i) => (
        <li
          key={i}
          className={
            m.startsWith('Warning: ')
              ? 'jp-MLPipe-FieldWarning'
              : 'jp-MLPipe-FieldError'
          }
        >
          {m}
        </li>
      ))}
    </ul>
  );
}

/**
 * An rjsf field that renders the registry widget named in
 * `ui:options.mlpipeWidget` (see `WIDGET_FIELD`), with the field's title and
 * description (rjsf shows no label for custom fields) and its error schema.
 */
export function WidgetField(props: FieldProps): JSX.Element {
  const options = getUiOptions(props.uiSchema);
  const name = String(options.mlpipeWidget ?? '');
  const Widget = props.registry.widgets[name] as
    React.ComponentType<any> | undefined;
  const id = props.idSchema.$id;
  const title = (options.title as string) || props.schema.title || props.name;
  const description =
    (options.description as string) || props.schema.description;
  return (
    <div className="jp-MLPipe-WidgetField" data-widget={name}>
      {title && (
        <div className="jp-FormGroup-compactTitle">
          <label className="jp-FormGroup-fieldLabel" htmlFor={id}>
            {title}
          </label>
          {description && (
            <div className="jp-FormGroup-description">{description}</div>
          )}
        </div>
      )}
      {Widget ? (
        <Widget
          id={id}
          name={props.name}
          label={title}
          value={props.formData}
          schema={props.schema}
          uiSchema={props.uiSchema}
          options={options}
          registry={props.registry}
          formContext={props.formContext}
          required={props.required}
          disabled={props.disabled}
          readonly={props.readonly}
          autofocus={props.autofocus}
          rawErrors={props.rawErrors}
          errorSchema={props.errorSchema}
          placeholder=""
          onChange={(value: unknown) => props.onChange(value as any)}
          onBlur={props.onBlur}
          onFocus={props.onFocus}
        />
      ) : (
        <div className="jp-MLPipe-Problem">
          {`No form widget named "${name}" is registered.`}
        </div>
      )}
    </div>
  );
}

/** A select of nodes by label; an id no longer offered stays, marked. */
function NodeSelect(props: {
  id?: string;
  value: string;
  choices: INodeChoice[];
  missing: string;
  label: string;
  disabled?: boolean;
  onChange: (id: string) => void;
}): JSX.Element {
  const known = props.choices.some(c => c.id === props.value);
  return (
    <select
      id={props.id}
      className="jp-mod-styled jp-MLPipe-Select"
      aria-label={props.label}
      value={props.value}
      disabled={props.disabled}
      onChange={event => props.onChange(event.target.value)}
    >
      {!props.value && <option value="">—</option>}
      {props.value && !known && (
        <option value={props.value}>{props.missing}</option>
      )}
      {props.choices.map(c => (
        <option key={c.id} value={c.id}>
          {c.label}
        </option>
      ))}
    </select>
  );
}

/** The editor of one `value_from`. */
export function ValueFromEditor(props: {
  id: string;
  value: unknown;
  trans: TranslationBundle;
  parameters: string[];
  listParameters?: string[];
  ancestors: INodeChoice[];
  errors?: IErrorSchema;
  disabled?: boolean;
  /** Values must be lists (a fan-out): parameters of other types are marked. */
  lists?: boolean;
  /** The field's own template already shows the problems of the value itself. */
  rootShown?: boolean;
  onChange: (value: ValueFrom | undefined) => void;
}): JSX.Element {
  const { trans, parameters, ancestors } = props;
  const value = readValueFrom(props.value);
  const lists = new Set(props.listParameters ?? []);
  const paramNames =
    value?.from === 'parameter' &&
    value.parameter &&
    !parameters.includes(value.parameter)
      ? [...parameters, value.parameter]
      : parameters;
  return (
    <div className="jp-MLPipe-ValueFrom" data-from={value?.from ?? ''}>
      <select
        id={props.id}
        className="jp-mod-styled jp-MLPipe-Select"
        aria-label={trans.__('Value from')}
        value={value?.from ?? ''}
        disabled={props.disabled}
        onChange={event => {
          const from = event.target.value;
          props.onChange(
            from === 'parameter' || from === 'result'
              ? switchValueFrom(value, from, parameters, ancestors)
              : undefined
          );
        }}
      >
        <option value="">{trans.__('(not set)')}</option>
        <option value="parameter">{trans.__('pipeline parameter')}</option>
        <option value="result">{trans.__('result of an upstream node')}</option>
      </select>
      {value?.from === 'parameter' &&
        (paramNames.length ? (
          <select
            className="jp-mod-styled jp-MLPipe-Select"
            aria-label={trans.__('Parameter')}
            value={value.parameter}
            disabled={props.disabled}
            onChange={event =>
              props.onChange({
                from: 'parameter',
                parameter: event.target.value
              })
            }
          >
            {!value.parameter && <option value="">—</option>}
            {paramNames.map(name => (
              <option key={name} value={name}>
                {!parameters.includes(name)
                  ? trans.__('%1 (not defined in the pipeline)', name)
                  : props.lists && !lists.has(name)
                    ? trans.__('%1 (not a list)', name)
                    : name}
              </option>
            ))}
          </select>
        ) : (
          <div className="jp-MLPipe-Hint">
            {trans.__(
              'The pipeline defines no parameters yet (Pipeline tab › Parameters).'
            )}
          </div>
        ))}
      {value?.from === 'result' && (
        <>
          {ancestors.length === 0 && !value.node ? (
            <div className="jp-MLPipe-Hint">
              {trans.__(
                'No node comes before this one: link one to use its result.'
              )}
            </div>
          ) : (
            <NodeSelect
              value={value.node}
              choices={ancestors}
              label={trans.__('Upstream node')}
              missing={trans.__('(a node that is not upstream any more)')}
              disabled={props.disabled}
              onChange={node =>
                props.onChange({
                  from: 'result',
                  node,
                  ...(value.key ? { key: value.key } : {})
                })
              }
            />
          )}
          <input
            className="jp-mod-styled"
            type="text"
            aria-label={trans.__('Key')}
            placeholder={trans.__(
              'key, e.g. metrics.accuracy (empty: the whole result)'
            )}
            value={value.key ?? ''}
            disabled={props.disabled}
            onChange={event => {
              const key = event.target.value;
              props.onChange({
                from: 'result',
                node: value.node,
                ...(key ? { key } : {})
              });
            }}
          />
          <div className="jp-MLPipe-Hint">
            {trans.__(
              'The JSON the node writes to mlpipe-result.json in its working folder.'
            )}
          </div>
        </>
      )}
      <Problems
        messages={
          props.rootShown
            ? errorsInside(props.errors)
            : errorsBelow(props.errors)
        }
      />
    </div>
  );
}

/** Widget `value-from`. */
function ValueFromWidget(props: WidgetProps): JSX.Element {
  const ctx = context(props);
  return (
    <ValueFromEditor
      id={props.id}
      value={props.value}
      trans={ctx.trans}
      parameters={ctx.pipelineParameters ?? []}
      listParameters={ctx.listParameters}
      ancestors={ctx.ancestors ?? []}
      errors={(props as any).errorSchema}
      rootShown
      disabled={props.disabled || props.readonly}
      onChange={value => props.onChange(value)}
    />
  );
}

/** What an operator reads as, for people. */
function operatorLabel(op: string, trans: TranslationBundle): string {
  switch (op) {
    case 'in':
      return trans.__('is one of');
    case 'not in':
      return trans.__('is none of');
    case 'is true':
      return trans.__('is true');
    case 'is false':
      return trans.__('is false');
    default:
      return op;
  }
}

/** A rule's value as typed, kept while typed, sent parsed. */
function RuleValueInput(props: {
  value: unknown;
  op: string;
  trans: TranslationBundle;
  disabled?: boolean;
  onChange: (value: unknown) => void;
}): JSX.Element {
  const { value, op, trans } = props;
  const [text, setText] = React.useState(() => ruleValueText(value, op));
  React.useEffect(() => {
    if (!jsonEqual(parseRuleValue(text, op), value)) {
      setText(ruleValueText(value, op));
    }
  }, [JSON.stringify(value), op]);
  return (
    <input
      className="jp-mod-styled jp-MLPipe-BranchRule-value"
      type="text"
      aria-label={trans.__('Value')}
      placeholder={
        takesList(op) ? trans.__('e.g. a, b, c') : trans.__('e.g. 0.9')
      }
      value={text}
      disabled={props.disabled}
      onChange={event => {
        setText(event.target.value);
        props.onChange(parseRuleValue(event.target.value, op));
      }}
    />
  );
}

/** Checkboxes of the nodes linked after the branch; ids no longer linked stay, marked. */
function TargetPicker(props: {
  ids: string[];
  choices: INodeChoice[];
  trans: TranslationBundle;
  label: string;
  disabled?: boolean;
  onChange: (ids: string[]) => void;
}): JSX.Element {
  const { ids, choices, trans } = props;
  const stale = staleTargets(ids, choices);
  if (!choices.length && !stale.length) {
    return (
      <div className="jp-MLPipe-Hint">
        {trans.__(
          'No node is linked after the branch yet: link the nodes it chooses from.'
        )}
      </div>
    );
  }
  return (
    <div
      className="jp-MLPipe-TargetPicker"
      role="group"
      aria-label={props.label}
    >
      {choices.map(choice => (
        <label key={choice.id} className="jp-MLPipe-TargetPicker-item">
          <input
            type="checkbox"
            checked={ids.includes(choice.id)}
            disabled={props.disabled}
            onChange={event =>
              props.onChange(
                toggleTarget(ids, choice.id, event.target.checked, choices)
              )
            }
          />
          <span>{choice.label}</span>
        </label>
      ))}
      {stale.map(id => (
        <label
          key={id}
          className="jp-MLPipe-TargetPicker-item jp-MLPipe-Problem-warning"
        >
          <input
            type="checkbox"
            checked
            disabled={props.disabled}
            onChange={() =>
              props.onChange(toggleTarget(ids, id, false, choices))
            }
          />
          <span>
            {trans.__('a node no longer linked after the branch (untick)')}
          </span>
        </label>
      ))}
    </div>
  );
}

/** Widget `branch-rules`: the branch's rules, first match wins. */
function BranchRulesWidget(props: WidgetProps): JSX.Element {
  const ctx = context(props);
  const { trans } = ctx;
  const children = ctx.children ?? [];
  const rules = readRules(props.value);
  const errors = (props as any).errorSchema as IErrorSchema | undefined;
  const disabled = props.disabled || props.readonly;
  const set = (next: IBranchRule[]) =>
    props.onChange(next.length ? next : undefined);
  return (
    <div id={props.id} className="jp-MLPipe-BranchRules">
      {rules.length === 0 && (
        <div className="jp-MLPipe-Hint">
          {trans.__(
            'No rules: only the "otherwise" nodes run. Add a rule for each choice; the first rule that matches wins.'
          )}
        </div>
      )}
      {rules.map((rule, index) => (
        <fieldset
          key={index}
          className="jp-MLPipe-BranchRule"
          data-index={index}
          aria-label={trans.__('Rule %1', index + 1)}
        >
          <legend>
            {index === 0
              ? trans.__('If the value')
              : trans.__('Else, if the value')}
          </legend>
          <div className="jp-MLPipe-BranchRule-row">
            <select
              className="jp-mod-styled jp-MLPipe-Select"
              aria-label={trans.__('Comparison')}
              value={rule.op}
              disabled={disabled}
              onChange={event =>
                set(updateRule(rules, index, { op: event.target.value }))
              }
            >
              {!(BRANCH_OPERATORS as readonly string[]).includes(rule.op) && (
                <option value={rule.op}>{rule.op}</option>
              )}
              {BRANCH_OPERATORS.map(op => (
                <option key={op} value={op}>
                  {operatorLabel(op, trans)}
                </option>
              ))}
            </select>
            {takesValue(rule.op) && (
              <RuleValueInput
                value={rule.value}
                op={rule.op}
                trans={trans}
                disabled={disabled}
                onChange={value => set(updateRule(rules, index, { value }))}
              />
            )}
          </div>
          <div className="jp-MLPipe-BranchRule-then">{trans.__('run:')}</div>
          <TargetPicker
            ids={rule.run}
            choices={children}
            trans={trans}
            label={trans.__('Nodes rule %1 runs', index + 1)}
            disabled={disabled}
            onChange={run => set(updateRule(rules, index, { run }))}
          />
          <div className="jp-MLPipe-BranchRule-actions">
            <button
              type="button"
              className="jp-mod-styled"
              aria-label={trans.__('Move rule %1 up', index + 1)}
              title={trans.__('Move up (earlier rules are tried first)')}
              disabled={disabled || index === 0}
              onClick={() => set(moveRule(rules, index, -1))}
            >
              ↑
            </button>
            <button
              type="button"
              className="jp-mod-styled"
              aria-label={trans.__('Move rule %1 down', index + 1)}
              title={trans.__('Move down')}
              disabled={disabled || index === rules.length - 1}
              onClick={() => set(moveRule(rules, index, 1))}
            >
              ↓
            </button>
            <button
              type="button"
              className="jp-mod-styled jp-mod-warn"
              data-action="remove-rule"
              disabled={disabled}
              onClick={() => set(removeRule(rules, index))}
            >
              {trans.__('Remove rule')}
            </button>
          </div>
          <Problems messages={errorsBelow(errors, index)} />
        </fieldset>
      ))}
      <button
        type="button"
        className="jp-mod-styled"
        data-action="add-rule"
        disabled={disabled}
        onClick={() => set([...rules, newRule(rules, children)])}
      >
        {trans.__('Add rule')}
      </button>
    </div>
  );
}

/** Widget `branch-targets`: the "otherwise" nodes (when no rule matches). */
function BranchTargetsWidget(props: WidgetProps): JSX.Element {
  const ctx = context(props);
  const { trans } = ctx;
  const children = ctx.children ?? [];
  const ids: string[] = Array.isArray(props.value)
    ? props.value.filter((v: unknown): v is string => typeof v === 'string')
    : [];
  const params = ctx.nodeParameters ?? {};
  const never = unreachedChildren(readRules(params.rules), ids, children);
  // the form shows no title for a list given to a widget: the widget does
  const title = props.label || props.schema?.title;
  return (
    <div id={props.id} className="jp-MLPipe-BranchTargets">
      {title && (
        <div className="jp-FormGroup-compactTitle">
          <div className="jp-FormGroup-fieldLabel">{title}</div>
          {props.schema?.description && (
            <div className="jp-FormGroup-description">
              {props.schema.description}
            </div>
          )}
        </div>
      )}
      <TargetPicker
        ids={ids}
        choices={children}
        trans={trans}
        label={trans.__('Nodes run when no rule matches')}
        disabled={props.disabled || props.readonly}
        onChange={next => props.onChange(next)}
      />
      {never.length > 0 && (
        <div className="jp-MLPipe-Hint jp-MLPipe-BranchTargets-never">
          {trans.__(
            'Never run (no rule and not "otherwise" names them): %1',
            never.map(c => c.label).join(', ')
          )}
        </div>
      )}
    </div>
  );
}

/** The properties of an object schema (none when it has none). */
function props_(schema: unknown): IJSONObject {
  return isObject(schema) && isObject(schema.properties)
    ? schema.properties
    : {};
}

/** Widget `for-each`: a runner node's fan-out. */
function ForEachWidget(props: WidgetProps): JSX.Element {
  const ctx = context(props);
  const { trans } = ctx;
  const value: IJSONObject = isObject(props.value) ? props.value : {};
  const on = isObject(props.value);
  const errors = (props as any).errorSchema as IErrorSchema | undefined;
  const disabled = props.disabled || props.readonly;
  // limits and defaults from the server's schema (shown, never written)
  const sub = (name: string): IJSONObject => {
    const own = props_(props.schema?.[OWN_SCHEMA] ?? props.schema);
    return isObject(own[name]) ? own[name] : {};
  };
  const maxParallel = sub('max_parallel');
  const itemParameter = sub('item_parameter');
  const set = (change: IJSONObject) => {
    const next: IJSONObject = { ...value, ...change };
    for (const key of Object.keys(next)) {
      if (next[key] === undefined) {
        delete next[key];
      }
    }
    props.onChange(next);
  };
  return (
    <div id={props.id} className="jp-MLPipe-ForEach">
      <label className="jp-MLPipe-Check">
        <input
          type="checkbox"
          aria-label={trans.__('Run once per item of a list')}
          checked={on}
          disabled={disabled}
          onChange={event =>
            props.onChange(
              event.target.checked
                ? {
                    value_from: switchValueFrom(
                      null,
                      ctx.listParameters?.length ? 'parameter' : 'result',
                      ctx.listParameters ?? [],
                      ctx.ancestors ?? []
                    )
                  }
                : undefined
            )
          }
        />
        <span>{trans.__('Run once per item of a list (fan-out)')}</span>
      </label>
      {on && (
        <>
          <div className="jp-MLPipe-ForEach-field">
            <span>{trans.__('Items from')}</span>
            <ValueFromEditor
              id={`${props.id}_value_from`}
              value={value.value_from}
              trans={trans}
              parameters={ctx.pipelineParameters ?? []}
              listParameters={ctx.listParameters}
              ancestors={ctx.ancestors ?? []}
              errors={errors?.value_from as IErrorSchema | undefined}
              disabled={disabled}
              lists
              onChange={next => set({ value_from: next })}
            />
          </div>
          <label className="jp-MLPipe-ForEach-field">
            <span>{trans.__('At most in parallel')}</span>
            <input
              className="jp-mod-styled"
              type="number"
              min={
                typeof maxParallel.minimum === 'number'
                  ? maxParallel.minimum
                  : 1
              }
              max={
                typeof maxParallel.maximum === 'number'
                  ? maxParallel.maximum
                  : undefined
              }
              aria-label={trans.__('At most in parallel')}
              placeholder={
                maxParallel.default !== undefined
                  ? String(maxParallel.default)
                  : ''
              }
              value={
                typeof value.max_parallel === 'number' ? value.max_parallel : ''
              }
              disabled={disabled}
              onChange={event => {
                const n = parseInt(event.target.value, 10);
                set({ max_parallel: Number.isFinite(n) ? n : undefined });
              }}
            />
          </label>
          <label className="jp-MLPipe-ForEach-field">
            <span>{trans.__('Item parameter')}</span>
            <input
              className="jp-mod-styled"
              type="text"
              aria-label={trans.__('Item parameter')}
              placeholder={
                typeof itemParameter.default === 'string'
                  ? itemParameter.default
                  : 'item'
              }
              value={
                typeof value.item_parameter === 'string'
                  ? value.item_parameter
                  : ''
              }
              disabled={disabled}
              onChange={event =>
                set({ item_parameter: event.target.value || undefined })
              }
            />
          </label>
          <div className="jp-MLPipe-Hint">
            {trans.__(
              'Each item reaches the node as this notebook/script parameter and as MLPIPE_ITEM (JSON), with MLPIPE_ITEM_INDEX.'
            )}
          </div>
          <Problems
            messages={[
              ...errorsBelow(errors, 'max_parallel'),
              ...errorsBelow(errors, 'item_parameter')
            ]}
          />
        </>
      )}
    </div>
  );
}

/** The control flow widgets, by the names schemas use in `x-mlpipe-widget`. */
export const controlFlowWidgets = {
  [FormWidgets.valueFrom]: ValueFromWidget,
  [FormWidgets.branchRules]: BranchRulesWidget,
  [FormWidgets.branchTargets]: BranchTargetsWidget,
  [FormWidgets.forEach]: ForEachWidget
};
