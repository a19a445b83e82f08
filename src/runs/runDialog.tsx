/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The run dialog: where to run (runtime configuration, `local` first) and the
 * pipeline's typed parameters as fields. Asks again, keeping what was typed,
 * until the values are valid or the user cancels.
 */

import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { entryLabel } from '../api';
import type { MLPipeAPI } from '../tokens';
import {
  collectOverrides,
  initialInputs,
  IPipelineParameter,
  ParameterValue,
  ParameterInputs
} from './params';

/** What the dialog returns. */
export interface IRunChoice {
  runtimeConfig: string;
  params: { [name: string]: ParameterValue };
  /** Airflow: publish the pipeline before triggering. */
  publish: boolean;
  /** Local: reuse the results of unchanged nodes (step caching). */
  cache: boolean;
}

interface IDialogValue {
  runtimeConfig: string;
  inputs: ParameterInputs;
  publish: boolean;
  cache: boolean;
}

/** The runtime configuration chosen last in this session. */
let lastRunConfig = 'local';

/** Dialog body: runtime configuration, publish choice, parameter fields. */
export class RunDialogBody
  extends ReactWidget
  implements Dialog.IBodyWidget<IDialogValue>
{
  constructor(private _options: RunDialogBody.IOptions) {
    super();
    this.addClass('jp-MLPipe-RunDialog');
    this._value = { ..._options.value, inputs: { ..._options.value.inputs } };
  }

  getValue(): IDialogValue {
    return this._value;
  }

  render(): JSX.Element {
    const { trans, configs, params, errors, intro, fixedConfig } =
      this._options;
    const value = this._value;
    const chosen = configs.find(c => c.name === value.runtimeConfig);
    const set = (patch: Partial<IDialogValue>) => {
      this._value = { ...this._value, ...patch };
      this.update();
    };
    const setInput = (name: string, input: string | boolean) =>
      set({ inputs: { ...this._value.inputs, [name]: input } });
    return (
      <div>
        {intro && <p>{intro}</p>}
        <label className="jp-MLPipe-Field">
          <span>{trans.__('Runtime configuration')}</span>
          <select
            className="jp-mod-styled jp-MLPipe-Select"
            name="runtime_config"
            value={value.runtimeConfig}
            disabled={!!fixedConfig}
            onChange={event => set({ runtimeConfig: event.target.value })}
          >
            {configs.map(config => (
              <option key={config.name} value={config.name}>
                {entryLabel(config)}
                {config.type === 'local'
                  ? ` — ${trans.__('this machine')}`
                  : config.type === 'airflow'
                    ? ` — ${trans.__('Apache Airflow')}`
                    : ''}
              </option>
            ))}
          </select>
        </label>
        {chosen?.error && <p className="jp-MLPipe-Problem">{chosen.error}</p>}
        {chosen?.type === 'airflow' && !fixedConfig && (
          <label className="jp-MLPipe-Check">
            <input
              type="checkbox"
              name="publish"
              checked={value.publish}
              onChange={event => set({ publish: event.target.checked })}
            />
            <span>
              {trans.__(
                'Publish the pipeline first, then wait until Airflow has imported it'
              )}
            </span>
          </label>
        )}
        {chosen?.type === 'local' && (
          <label className="jp-MLPipe-Check">
            <input
              type="checkbox"
              name="cache"
              checked={value.cache}
              onChange={event => set({ cache: event.target.checked })}
            />
            <span>
              {trans.__(
                'Reuse the results of nodes that did not change since an earlier run (uncheck to run every node)'
              )}
            </span>
          </label>
        )}
        {chosen?.type === 'local' && this._options.dirty && (
          <p className="jp-MLPipe-Hint">
            {trans.__(
              'The run uses the pipeline as shown, unsaved changes included.'
            )}
          </p>
        )}
        <fieldset className="jp-MLPipe-RunParams">
          <legend>{trans.__('Parameters')}</legend>
          {params.length === 0 && (
            <p className="jp-MLPipe-Hint">
              {trans.__('This pipeline has no parameters.')}
            </p>
          )}
          {params.map(param => (
            <ParameterField
              key={param.name}
              param={param}
              input={value.inputs[param.name]}
              error={errors[param.name]}
              trans={trans}
              onChange={input => setInput(param.name, input)}
            />
          ))}
        </fieldset>
      </div>
    );
  }

  private _value: IDialogValue;
}

export namespace RunDialogBody {
  export interface IOptions {
    trans: TranslationBundle;
    configs: MLPipeAPI.IRuntimeConfig[];
    params: IPipelineParameter[];
    value: IDialogValue;
    errors: { [name: string]: string };
    intro?: string;
    fixedConfig?: boolean;
    dirty?: boolean;
  }
}

/** One parameter: a checkbox, a list of allowed values or a text field. */
function ParameterField(props: {
  param: IPipelineParameter;
  input: string | boolean | undefined;
  error?: string;
  trans: TranslationBundle;
  onChange: (input: string | boolean) => void;
}): JSX.Element {
  const { param, input, error, trans } = props;
  const id = `mlpipe-run-param-${param.name}`;
  const hint = [
    param.type,
    param.required ? trans.__('required') : '',
    param.default !== undefined && param.default !== null
      ? trans.__(
          'default %1',
          Array.isArray(param.default)
            ? JSON.stringify(param.default)
            : String(param.default)
        )
      : ''
  ]
    .filter(Boolean)
    .join(', ');
  let field: JSX.Element;
  if (param.type === 'boolean') {
    field = (
      <input
        id={id}
        type="checkbox"
        name={param.name}
        checked={input === true}
        onChange={event => props.onChange(event.target.checked)}
      />
    );
  } else if (param.enum && param.enum.length) {
    field = (
      <select
        id={id}
        className="jp-mod-styled jp-MLPipe-Select"
        name={param.name}
        value={typeof input === 'string' ? input : ''}
        onChange={event => props.onChange(event.target.value)}
      >
        {!param.required && <option value="">{trans.__('(default)')}</option>}
        {param.enum.map(option => (
          <option key={String(option)} value={String(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  } else {
    field = (
      <input
        id={id}
        className="jp-mod-styled"
        type="text"
        inputMode={
          param.type === 'string' || param.type === 'list' ? 'text' : 'decimal'
        }
        placeholder={param.type === 'list' ? '["a", "b"]' : undefined}
        name={param.name}
        value={typeof input === 'string' ? input : ''}
        aria-invalid={!!error}
        onChange={event => props.onChange(event.target.value)}
      />
    );
  }
  return (
    <div className="jp-MLPipe-RunParam" data-param={param.name}>
      <label htmlFor={id}>
        <span className="jp-MLPipe-RunParam-name">{param.name}</span>{' '}
        <span className="jp-MLPipe-Hint">({hint})</span>
      </label>
      {field}
      {param.description && (
        <div className="jp-MLPipe-Hint">{param.description}</div>
      )}
      {error && (
        <div className="jp-MLPipe-Problem" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

/** Options of {@link askRunChoice}. */
export interface IAskRunOptions {
  trans: TranslationBundle;
  title: string;
  accept: string;
  intro?: string;
  configs: MLPipeAPI.IRuntimeConfig[];
  params: IPipelineParameter[];
  /** The configuration to start with (else the last one chosen). */
  runtimeConfig?: string;
  /** Lock the configuration (e.g. triggering what was just published). */
  fixedConfig?: boolean;
  /** Values of an earlier run, to start from. */
  previous?: { [name: string]: unknown };
  /** Whether the pipeline has unsaved changes. */
  dirty?: boolean;
}

/**
 * Ask where to run and with which parameters; null when cancelled. Invalid
 * values bring the dialog back with the problems under their fields.
 */
export async function askRunChoice(
  options: IAskRunOptions
): Promise<IRunChoice | null> {
  const { trans, configs, params } = options;
  if (!configs.length) {
    return null;
  }
  const start = options.runtimeConfig ?? lastRunConfig;
  let value: IDialogValue = {
    runtimeConfig: configs.some(c => c.name === start)
      ? start
      : (configs.find(c => c.type === 'local')?.name ?? configs[0].name),
    inputs: initialInputs(params, options.previous),
    publish: true,
    cache: true
  };
  let errors: { [name: string]: string } = {};
  for (;;) {
    const result = await showDialog({
      title: options.title,
      body: new RunDialogBody({
        trans,
        configs,
        params,
        value,
        errors,
        intro: options.intro,
        fixedConfig: options.fixedConfig,
        dirty: options.dirty
      }),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: options.accept })
      ],
      focusNodeSelector: 'select, input'
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    value = result.value;
    const collected = collectOverrides(params, value.inputs);
    errors = collected.errors;
    if (Object.keys(errors).length === 0) {
      if (!options.fixedConfig) {
        lastRunConfig = value.runtimeConfig;
      }
      const config = configs.find(c => c.name === value.runtimeConfig);
      return {
        runtimeConfig: value.runtimeConfig,
        params: collected.params,
        publish:
          config?.type === 'airflow' && !options.fixedConfig && value.publish,
        cache: config?.type !== 'local' || value.cache
      };
    }
  }
}
