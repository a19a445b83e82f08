/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Custom widgets of the mlpipe-lab forms (react-jsonschema-form widgets,
 * rendered by JupyterLab's form component).
 */

import type { IDocumentManager } from '@jupyterlab/docmanager';
import { FileDialog } from '@jupyterlab/filebrowser';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { RegistryWidgetsType, WidgetProps } from '@rjsf/utils';
import * as React from 'react';

import { MLPipeClient } from '../api';
import { opForFile } from '../editor/nodeTypes';
import { isObject, jsonEqual, relativePath } from '../model/elyra';
import type { ICatalogStore, INodeTypeRegistry, MLPipeAPI } from '../tokens';
import { controlFlowWidgets } from './controlFlow';
import { FormWidgets } from './schema';

/** What the widgets need from their surroundings (given as the form context). */
export interface IFormContext {
  /** Required by JupyterLab's field template. */
  defaultFormData: object;
  trans: TranslationBundle;
  /** To browse for files. */
  docManager?: IDocumentManager | null;
  /** Folder of the pipeline file (file paths are relative to it). */
  folder?: string;
  /** The catalogs (runtime images...). */
  catalogs?: ICatalogStore;
  /** Which files a node runs (for "Browse…"). */
  nodeTypes?: INodeTypeRegistry;
  /** Names of the pipeline's parameters (for the "Pipeline parameters used" picker). */
  pipelineParameters?: string[];
  /** The pipeline's start date (the schedule's next runs come after it). */
  startDate?: string;
  /** Text of the empty runtime image choice (e.g. "Pipeline default (python:3.11)"). */
  runtimeImageFallback?: string;
  /** Serve MLflow model nodes: where the registry is and which model is chosen. */
  mlflow?: { trackingUri: string; modelName: string };
  /** Nodes this node depends on, by label (for "result of an upstream node"). */
  ancestors?: { id: string; label: string }[];
  /** Nodes linked directly after this node, by label (a branch's choices). */
  children?: { id: string; label: string }[];
  /** Pipeline parameters of type list (what a fan-out maps over). */
  listParameters?: string[];
  /** The node's own `component_parameters` (widgets that need their siblings). */
  nodeParameters?: { [key: string]: any };
}

function context(props: WidgetProps): IFormContext {
  return (props.registry?.formContext ?? props.formContext) as IFormContext;
}

/** Text from a quantity field: numbers stay numbers ("2" -> 2), units stay text ("500m"). */
export function parseQuantity(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (!trimmed) {
    return undefined;
  }
  return /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/** Text from a scalar field: numbers and booleans are typed, the rest is text. */
export function parseScalar(
  text: string
): number | string | boolean | undefined {
  const trimmed = text.trim();
  if (!text.length) {
    return undefined;
  }
  if (trimmed === 'true' || trimmed === 'false') {
    return trimmed === 'true';
  }
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(trimmed)) {
    return Number(trimmed);
  }
  return text;
}

/**
 * Text from a scalar field that may also hold a list (a parameter's default
 * when parameters may be lists): a JSON list is a list, the rest as `parseScalar`.
 */
export function parseScalarOrList(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed = JSON.parse(trimmed);
      if (Array.isArray(parsed)) {
        return parsed;
      }
    } catch {
      // not a list yet (still being typed): text
    }
  }
  return parseScalar(text);
}

/**
 * A text input that keeps what the user types while it is being typed, and
 * sends the parsed value.
 */
function ParsedTextWidget(
  props: WidgetProps & { parse: (text: string) => unknown }
): JSX.Element {
  const { id, value, disabled, readonly, placeholder, onChange, onBlur } =
    props;
  const shown =
    value === undefined || value === null
      ? ''
      : Array.isArray(value) || isObject(value)
        ? JSON.stringify(value)
        : String(value);
  const [text, setText] = React.useState(shown);
  React.useEffect(() => {
    // follow outside changes (undo, another node) unless they only re-type the same value
    if (
      !jsonEqual(props.parse(text), value) &&
      !(text === '' && value === undefined)
    ) {
      setText(shown);
    }
  }, [JSON.stringify(value)]);
  return (
    <input
      id={id}
      className="form-control"
      type="text"
      value={text}
      disabled={disabled || readonly}
      placeholder={placeholder}
      onChange={event => {
        setText(event.target.value);
        onChange(props.parse(event.target.value));
      }}
      onBlur={() => onBlur(id, value)}
    />
  );
}

function QuantityWidget(props: WidgetProps): JSX.Element {
  return <ParsedTextWidget {...props} parse={parseQuantity} />;
}

function ScalarWidget(props: WidgetProps): JSX.Element {
  const lists = !!props.options?.jsonList;
  return (
    <ParsedTextWidget
      {...props}
      parse={lists ? parseScalarOrList : parseScalar}
    />
  );
}

/**
 * The value of an operator or component argument from what was typed, by the
 * argument's JSON type (`x-mlpipe-value-type`): numbers typed, JSON for lists
 * and dicts (text when it is not valid JSON: the server says why), text
 * otherwise; an empty field is unset.
 */
export function parseArgument(text: string, valueType: string): unknown {
  const trimmed = text.trim();
  if (!trimmed) {
    return undefined;
  }
  if (valueType === 'integer' || valueType === 'number') {
    return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(trimmed)
      ? Number(trimmed)
      : text;
  }
  if (valueType === 'object' || valueType === 'array') {
    try {
      const parsed = JSON.parse(trimmed);
      const matches =
        valueType === 'array' ? Array.isArray(parsed) : isObject(parsed);
      return matches ? parsed : text;
    } catch {
      return text;
    }
  }
  if (valueType === 'any') {
    return parseScalar(text);
  }
  return text;
}

/** The text of a stored argument value. */
export function argumentText(value: unknown): string {
  if (value === undefined || value === null) {
    return '';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * An operator or component argument (`x-mlpipe-widget: operator-arg`): a text
 * field, or a JSON text area for lists and dicts.
 */
function OperatorArgWidget(props: WidgetProps): JSX.Element {
  const { id, value, disabled, readonly, placeholder, onChange, onBlur } =
    props;
  const valueType = String(
    props.schema?.['x-mlpipe-value-type'] ?? props.schema?.type ?? 'string'
  );
  const shown = argumentText(value);
  const [text, setText] = React.useState(shown);
  React.useEffect(() => {
    // follow outside changes (undo, another node), not the echo of what was typed
    if (!jsonEqual(parseArgument(text, valueType), value)) {
      setText(shown);
    }
  }, [value]);
  const multiline = valueType === 'object' || valueType === 'array';
  const common = {
    id,
    className: 'form-control',
    value: text,
    disabled: disabled || readonly,
    placeholder,
    'data-value-type': valueType,
    onBlur: () => onBlur(id, value)
  };
  return multiline ? (
    <textarea
      {...common}
      rows={3}
      spellCheck={false}
      onChange={event => {
        setText(event.target.value);
        onChange(parseArgument(event.target.value, valueType));
      }}
    />
  ) : (
    <input
      {...common}
      type="text"
      onChange={event => {
        setText(event.target.value);
        onChange(parseArgument(event.target.value, valueType));
      }}
    />
  );
}

/** The mask the server shows for a secret that is set. */
export const SECRET_MASK = '********';

/**
 * A write-only secret: shows whether it is set, never its value. "Change" opens
 * an empty password input; "Clear" sends null (the server deletes it); leaving
 * it alone sends the mask back (the server keeps it).
 */
function SecretWidget(props: WidgetProps): JSX.Element {
  const { id, value, disabled, readonly, onChange } = props;
  const { trans } = context(props);
  const isSet = value === SECRET_MASK;
  const [editing, setEditing] = React.useState(!isSet && value !== null);
  if (!editing) {
    return (
      <div className="jp-MLPipe-Secret" data-state={isSet ? 'set' : 'cleared'}>
        <span className="jp-MLPipe-Secret-state">
          {isSet ? trans.__('Set (hidden)') : trans.__('Will be cleared')}
        </span>
        <button
          type="button"
          className="jp-mod-styled jp-mod-reject"
          disabled={disabled || readonly}
          onClick={() => {
            setEditing(true);
            onChange(undefined);
          }}
        >
          {isSet ? trans.__('Change') : trans.__('Set')}
        </button>
        {isSet && (
          <button
            type="button"
            className="jp-mod-styled jp-mod-warn"
            disabled={disabled || readonly}
            onClick={() => onChange(null)}
          >
            {trans.__('Clear')}
          </button>
        )}
      </div>
    );
  }
  return (
    <input
      id={id}
      className="form-control jp-MLPipe-Secret-input"
      type="password"
      autoComplete="new-password"
      value={typeof value === 'string' && value !== SECRET_MASK ? value : ''}
      disabled={disabled || readonly}
      placeholder={trans.__('Type the new value (never shown again)')}
      onChange={event => onChange(event.target.value || undefined)}
    />
  );
}

/** Follow the runtime image catalog. */
export function useRuntimeImages(
  catalogs: ICatalogStore | undefined
): MLPipeAPI.IRuntimeImage[] {
  const [items, setItems] = React.useState(
    () => catalogs?.items<MLPipeAPI.IRuntimeImage>('runtime-images') ?? []
  );
  React.useEffect(() => {
    if (!catalogs) {
      return;
    }
    const update = (_: unknown, kind: string) => {
      if (kind === 'runtime-images') {
        setItems(catalogs.items('runtime-images'));
      }
    };
    catalogs.changed.connect(update);
    catalogs.ensure('runtime-images').catch(reason => {
      console.warn('mlpipe-lab: cannot read the runtime images', reason);
    });
    return () => {
      catalogs.changed.disconnect(update);
    };
  }, [catalogs]);
  return items;
}

/** A runtime image from the catalog (value: the image reference, like Elyra). */
function RuntimeImageWidget(props: WidgetProps): JSX.Element {
  const { id, value, disabled, readonly, onChange } = props;
  const ctx = context(props);
  const { trans } = ctx;
  // each image once, even when two catalog entries name it (e.g. Elyra's and ours)
  const seen = new Set<string>();
  const images = useRuntimeImages(ctx.catalogs).filter(i => {
    if (!i.image || seen.has(i.image)) {
      return false;
    }
    seen.add(i.image);
    return true;
  });
  const known = images.some(i => i.image === value);
  return (
    <select
      id={id}
      className="form-control jp-MLPipe-RuntimeImage"
      value={typeof value === 'string' ? value : ''}
      disabled={disabled || readonly}
      onChange={event => onChange(event.target.value || undefined)}
    >
      <option value="">{ctx.runtimeImageFallback ?? trans.__('(none)')}</option>
      {images.map(image => (
        <option key={image.name} value={image.image}>
          {image.display_name
            ? `${image.display_name} (${image.image})`
            : image.image}
        </option>
      ))}
      {!known && typeof value === 'string' && value && (
        <option value={value}>
          {trans.__('%1 (not in the catalog)', value)}
        </option>
      )}
    </select>
  );
}

/** A node's file, relative to the pipeline, with a "Browse" button. */
function FileWidget(props: WidgetProps): JSX.Element {
  const { id, value, disabled, readonly, onChange, placeholder } = props;
  const { trans, docManager, folder, nodeTypes } = context(props);
  const browse = async () => {
    if (!docManager) {
      return;
    }
    // the pipeline's folder, which a node's file may not leave; notebooks and scripts only
    const result = await FileDialog.getOpenFiles({
      manager: docManager,
      title: trans.__('Choose the notebook or script of this node'),
      defaultPath: folder ?? '',
      root: folder ?? '',
      filter: model =>
        model.type === 'directory' ||
        (nodeTypes && opForFile(nodeTypes, model.path))
          ? {}
          : null
    });
    const chosen = result.button.accept ? result.value?.[0] : undefined;
    if (chosen && chosen.type !== 'directory') {
      onChange(relativePath(folder ?? '', chosen.path));
    }
  };
  return (
    <div className="jp-MLPipe-File">
      <input
        id={id}
        className="form-control"
        type="text"
        value={typeof value === 'string' ? value : ''}
        placeholder={placeholder}
        disabled={disabled || readonly}
        onChange={event => onChange(event.target.value || undefined)}
      />
      {docManager && (
        <button
          type="button"
          className="jp-mod-styled jp-mod-reject"
          disabled={disabled || readonly}
          onClick={() => void browse()}
        >
          {trans.__('Browse…')}
        </button>
      )}
    </div>
  );
}

/** A value fetched from the server, with a refresh counter and a readable error. */
function useFetched<T>(
  load: (() => Promise<T>) | null,
  deps: unknown[]
): {
  data: T | null;
  error: string | null;
  loading: boolean;
  refresh: () => void;
} {
  const [tick, setTick] = React.useState(0);
  const [state, setState] = React.useState<{
    data: T | null;
    error: string | null;
    loading: boolean;
  }>({ data: null, error: null, loading: false });
  React.useEffect(() => {
    if (!load) {
      setState({ data: null, error: null, loading: false });
      return;
    }
    let live = true;
    setState(old => ({ ...old, error: null, loading: true }));
    // wait for typing to pause before asking the registry
    const timer = setTimeout(() => {
      load()
        .then(data => live && setState({ data, error: null, loading: false }))
        .catch(
          reason =>
            live &&
            setState({
              data: null,
              error: (reason as Error)?.message ?? String(reason),
              loading: false
            })
        );
    }, 400);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, refresh: () => setTick(t => t + 1) };
}

/** The registry's models, for the model name field. */
function useMlflowModels(trackingUri: string) {
  return useFetched(
    trackingUri ? () => MLPipeClient.mlflowModels(trackingUri) : null,
    [trackingUri]
  );
}

/** The chosen model's versions and aliases. */
function useMlflowVersions(trackingUri: string, name: string) {
  return useFetched(
    trackingUri && name
      ? () => MLPipeClient.mlflowVersions(trackingUri, name)
      : null,
    [trackingUri, name]
  );
}

/** Refresh button and status line under a live registry list. */
function RegistryStatus(props: {
  trans: TranslationBundle;
  trackingUri: string;
  error: string | null;
  loading: boolean;
  count: number | null;
  onRefresh: () => void;
}): JSX.Element {
  const { trans } = props;
  let text = '';
  if (!props.trackingUri) {
    text = trans.__('Set the MLflow tracking URI to list the registry.');
  } else if (props.loading) {
    text = trans.__('Reading the MLflow registry…');
  } else if (props.error) {
    text = props.error;
  } else if (props.count !== null) {
    text = trans._n(
      '%1 entry in the registry',
      '%1 entries in the registry',
      props.count
    );
  }
  return (
    <div
      className={`jp-MLPipe-Registry-status${props.error ? ' jp-mod-error' : ''}`}
      role={props.error ? 'alert' : undefined}
    >
      <span>{text}</span>
      {props.trackingUri && (
        <button
          type="button"
          className="jp-mod-styled jp-mod-reject jp-MLPipe-Registry-refresh"
          title={trans.__('Read the MLflow registry again')}
          onClick={props.onRefresh}
        >
          {trans.__('Refresh')}
        </button>
      )}
    </div>
  );
}

/** A registered model name: free text with the registry's names as suggestions. */
function MlflowModelWidget(props: WidgetProps): JSX.Element {
  const { id, value, disabled, readonly, onChange } = props;
  const { trans, mlflow } = context(props);
  const uri = mlflow?.trackingUri ?? '';
  const models = useMlflowModels(uri);
  const names = models.data?.models.map(m => m.name) ?? [];
  return (
    <div className="jp-MLPipe-Registry" data-field="model_name">
      <select
        id={id}
        className="form-control jp-MLPipe-MlflowModel"
        value={typeof value === 'string' ? value : ''}
        disabled={disabled || readonly}
        onChange={event => onChange(event.target.value || undefined)}
      >
        <option value="">{trans.__('(choose a registered model)')}</option>
        {names.map(name => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
        {typeof value === 'string' && value && !names.includes(value) && (
          <option value={value}>
            {trans.__('%1 (not in the list)', value)}
          </option>
        )}
      </select>
      <RegistryStatus
        trans={trans}
        trackingUri={uri}
        error={models.error}
        loading={models.loading}
        count={models.data ? names.length : null}
        onRefresh={models.refresh}
      />
    </div>
  );
}

/** A version (`mlflowVersion`) or an alias (`mlflowAlias`) of the chosen model. */
function MlflowVersionOrAliasWidget(
  props: WidgetProps & { kind: 'version' | 'alias' }
): JSX.Element {
  const { id, value, disabled, readonly, onChange, kind } = props;
  const { trans, mlflow } = context(props);
  const uri = mlflow?.trackingUri ?? '';
  const name = mlflow?.modelName ?? '';
  const versions = useMlflowVersions(uri, name);
  const choices: { value: string; text: string }[] =
    kind === 'version'
      ? (versions.data?.versions ?? []).map(v => ({
          value: v.version,
          text: [
            v.version,
            v.status,
            v.stage && v.stage !== 'None' ? v.stage : '',
            v.aliases.length ? '@' + v.aliases.join(', @') : ''
          ]
            .filter(Boolean)
            .join(' · ')
        }))
      : Object.entries(versions.data?.aliases ?? {})
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([alias, version]) => ({
            value: alias,
            text: trans.__('%1 (version %2)', alias, version)
          }));
  const known = choices.some(c => c.value === value);
  return (
    <div className="jp-MLPipe-Registry" data-field={`model_${kind}`}>
      <select
        id={id}
        className={`form-control jp-MLPipe-Mlflow-${kind}`}
        value={typeof value === 'string' ? value : ''}
        disabled={disabled || readonly || (!name && !value)}
        onChange={event => onChange(event.target.value || undefined)}
      >
        <option value="">
          {kind === 'version'
            ? trans.__('(no version: use an alias)')
            : trans.__('(no alias: use a version)')}
        </option>
        {choices.map(c => (
          <option key={c.value} value={c.value}>
            {c.text}
          </option>
        ))}
        {!known && typeof value === 'string' && value && (
          <option value={value}>
            {trans.__('%1 (not in the registry)', value)}
          </option>
        )}
      </select>
      {name && (
        <RegistryStatus
          trans={trans}
          trackingUri={uri}
          error={versions.error}
          loading={versions.loading}
          count={versions.data ? choices.length : null}
          onRefresh={versions.refresh}
        />
      )}
    </div>
  );
}

function MlflowVersionWidget(props: WidgetProps): JSX.Element {
  return <MlflowVersionOrAliasWidget {...props} kind="version" />;
}

function MlflowAliasWidget(props: WidgetProps): JSX.Element {
  return <MlflowVersionOrAliasWidget {...props} kind="alias" />;
}

/**
 * A schedule (preset or cron) with the server's reading of it underneath: in
 * words with the next runs, or what is wrong. The server's checker is the one
 * that validation and export use, so the three never disagree.
 */
function ScheduleWidget(props: WidgetProps): JSX.Element {
  const { id, value, disabled, readonly, onChange, placeholder } = props;
  const { trans, startDate } = context(props);
  const text = typeof value === 'string' ? value : '';
  const info = useFetched(
    () => MLPipeClient.schedule(text, startDate),
    [text, startDate]
  );
  return (
    <div className="jp-MLPipe-Schedule">
      <input
        id={id}
        className="form-control"
        type="text"
        value={text}
        placeholder={placeholder || trans.__('e.g. @daily or 0 3 * * 1-5')}
        disabled={disabled || readonly}
        onChange={event => onChange(event.target.value || undefined)}
      />
      <div
        className={`jp-MLPipe-ScheduleInfo${info.error ? ' jp-MLPipe-Problem' : ''}`}
        data-state={info.error ? 'error' : info.data ? 'ok' : 'loading'}
        aria-live="polite"
      >
        {info.error ??
          (info.data && (
            <>
              <span className="jp-MLPipe-ScheduleInfo-description">
                {info.data.description}
              </span>
              {info.data.next_runs.length > 0 && (
                <span className="jp-MLPipe-ScheduleInfo-next">
                  {trans.__(
                    'Next runs (UTC): %1',
                    info.data.next_runs.join(', ')
                  )}
                </span>
              )}
            </>
          ))}
      </div>
    </div>
  );
}

/**
 * A pick of the pipeline's parameters (for "Pipeline parameters used"): one
 * checkbox per defined parameter; names no longer defined stay listed, marked.
 */
function PipelineParametersWidget(props: WidgetProps): JSX.Element {
  const { id, value, disabled, readonly, onChange } = props;
  const { trans, pipelineParameters } = context(props);
  const chosen: string[] = Array.isArray(value)
    ? value.filter((v: unknown): v is string => typeof v === 'string')
    : [];
  const defined = pipelineParameters ?? [];
  const names = [...defined, ...chosen.filter(n => !defined.includes(n))];
  if (!names.length) {
    return (
      <div id={id} className="jp-MLPipe-Hint">
        {trans.__(
          'The pipeline defines no parameters yet (Pipeline tab › Parameters).'
        )}
      </div>
    );
  }
  return (
    <div id={id} className="jp-MLPipe-ParameterPicker" role="group">
      {names.map(name => (
        <label key={name} className="jp-MLPipe-ParameterPicker-item">
          <input
            type="checkbox"
            name={name}
            checked={chosen.includes(name)}
            disabled={disabled || readonly}
            onChange={event => {
              const next = event.target.checked
                ? [...chosen, name]
                : chosen.filter(n => n !== name);
              // keep the pipeline's order
              onChange(
                next.length ? names.filter(n => next.includes(n)) : undefined
              );
            }}
          />
          <span>{name}</span>
          {!defined.includes(name) && (
            <span className="jp-MLPipe-Problem jp-MLPipe-Problem-warning">
              {trans.__('not defined in the pipeline')}
            </span>
          )}
        </label>
      ))}
    </div>
  );
}

/** mlpipe-lab's own widgets, by the names schemas use in `x-mlpipe-widget`. */
export const builtinFormWidgets: RegistryWidgetsType = {
  [FormWidgets.quantity]: QuantityWidget,
  [FormWidgets.scalar]: ScalarWidget,
  [FormWidgets.operatorArg]: OperatorArgWidget,
  [FormWidgets.secret]: SecretWidget,
  [FormWidgets.runtimeImage]: RuntimeImageWidget,
  [FormWidgets.file]: FileWidget,
  [FormWidgets.mlflowModel]: MlflowModelWidget,
  [FormWidgets.mlflowVersion]: MlflowVersionWidget,
  [FormWidgets.mlflowAlias]: MlflowAliasWidget,
  'pipeline-parameters': PipelineParametersWidget,
  schedule: ScheduleWidget,
  ...controlFlowWidgets
};
