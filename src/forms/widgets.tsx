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

import { catalogStore } from '../api';
import { opForPath, relativePath } from '../model/elyra';
import type { MLPipeAPI } from '../tokens';
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
  /** Text of the empty runtime image choice (e.g. "Pipeline default (python:3.11)"). */
  runtimeImageFallback?: string;
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
 * A text input that keeps what the user types while it is being typed, and
 * sends the parsed value.
 */
function ParsedTextWidget(
  props: WidgetProps & { parse: (text: string) => unknown }
): JSX.Element {
  const { id, value, disabled, readonly, placeholder, onChange, onBlur } =
    props;
  const shown = value === undefined || value === null ? '' : String(value);
  const [text, setText] = React.useState(shown);
  React.useEffect(() => {
    // follow outside changes (undo, another node) unless they only re-type the same value
    if (props.parse(text) !== value && !(text === '' && value === undefined)) {
      setText(shown);
    }
  }, [value]);
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
  return <ParsedTextWidget {...props} parse={parseScalar} />;
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
export function useRuntimeImages(): MLPipeAPI.IRuntimeImage[] {
  const [items, setItems] = React.useState(() =>
    catalogStore.items<MLPipeAPI.IRuntimeImage>('runtime-images')
  );
  React.useEffect(() => {
    const update = (_: unknown, kind: string) => {
      if (kind === 'runtime-images') {
        setItems(catalogStore.items('runtime-images'));
      }
    };
    catalogStore.changed.connect(update);
    catalogStore.ensure('runtime-images').catch(reason => {
      console.warn('mlpipe-lab: cannot read the runtime images', reason);
    });
    return () => {
      catalogStore.changed.disconnect(update);
    };
  }, []);
  return items;
}

/** A runtime image from the catalog (value: the image reference, like Elyra). */
function RuntimeImageWidget(props: WidgetProps): JSX.Element {
  const { id, value, disabled, readonly, onChange } = props;
  const ctx = context(props);
  const { trans } = ctx;
  const images = useRuntimeImages().filter(i => i.image);
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
  const { trans, docManager, folder } = context(props);
  const browse = async () => {
    if (!docManager) {
      return;
    }
    const result = await FileDialog.getOpenFiles({
      manager: docManager,
      title: trans.__('Choose the notebook or script of this node'),
      filter: model =>
        model.type === 'directory' || opForPath(model.path) ? {} : null
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

/** The custom widgets, by the names used in UI schemas. */
export const formWidgets: RegistryWidgetsType = {
  [FormWidgets.quantity]: QuantityWidget,
  [FormWidgets.scalar]: ScalarWidget,
  [FormWidgets.secret]: SecretWidget,
  [FormWidgets.runtimeImage]: RuntimeImageWidget,
  [FormWidgets.file]: FileWidget
};
