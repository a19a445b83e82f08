/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Parameter overrides of a run, from the pipeline's typed parameters
 * (`app_data.mlpipe.parameters`, schema `pipeline-properties.json`): what the
 * run dialog shows, and the typed values it sends. The server checks them
 * again; this gives the message before the round trip.
 */

/** A declared pipeline parameter. */
export interface IPipelineParameter {
  name: string;
  /** `list`: a JSON list (what a fan-out maps over). */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'list';
  default?: string | number | boolean | unknown[] | null;
  description?: string;
  required?: boolean;
  enum?: (string | number | boolean)[];
  minimum?: number;
  maximum?: number;
}

/** What the user typed (text), or ticked (booleans), per parameter. */
export type ParameterInputs = { [name: string]: string | boolean };

const TYPES = new Set(['string', 'integer', 'number', 'boolean', 'list']);

/** A parameter value as sent to the server. */
export type ParameterValue = string | number | boolean | unknown[];

/** The well-formed parameters declared in a pipeline's `app_data.mlpipe`. */
export function pipelineParameters(mlpipe: unknown): IPipelineParameter[] {
  const list = (mlpipe as { parameters?: unknown } | null)?.parameters;
  if (!Array.isArray(list)) {
    return [];
  }
  const seen = new Set<string>();
  const result: IPipelineParameter[] = [];
  for (const item of list) {
    if (
      !item ||
      typeof item !== 'object' ||
      typeof item.name !== 'string' ||
      !item.name ||
      seen.has(item.name)
    ) {
      continue;
    }
    seen.add(item.name);
    result.push({
      ...item,
      type: TYPES.has(item.type) ? item.type : 'string'
    });
  }
  return result;
}

/** The value a parameter's field starts with: the last override, else its default. */
export function initialInput(
  param: IPipelineParameter,
  previous?: { [name: string]: unknown }
): string | boolean {
  const value =
    previous && param.name in previous ? previous[param.name] : param.default;
  if (param.type === 'boolean') {
    return value === true || value === 'true';
  }
  if (Array.isArray(value)) {
    return JSON.stringify(value);
  }
  return value === null || value === undefined ? '' : String(value);
}

/** The starting inputs of all parameters. */
export function initialInputs(
  params: readonly IPipelineParameter[],
  previous?: { [name: string]: unknown }
): ParameterInputs {
  return Object.fromEntries(
    params.map(p => [p.name, initialInput(p, previous)])
  );
}

/**
 * A field's input as the parameter's type. `value` is undefined when the
 * field is empty (the default applies); `error` names the parameter.
 */
export function parseParameter(
  param: IPipelineParameter,
  input: string | boolean | undefined
): { value?: ParameterValue; error?: string } {
  const { name } = param;
  let value: ParameterValue;
  if (param.type === 'boolean') {
    value = input === true || input === 'true';
  } else {
    const text = typeof input === 'string' ? input : '';
    // an empty field means "the pipeline's value"
    if (text.trim() === '') {
      return hasDefault(param) || !param.required
        ? {}
        : { error: `Parameter '${name}' is required.` };
    }
    if (param.type === 'string') {
      value = text;
    } else if (param.type === 'list') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed)) {
        return {
          error: `Parameter '${name}' must be a JSON list, e.g. ["a", "b"].`
        };
      }
      value = parsed;
    } else {
      const number = Number(text.trim());
      if (!Number.isFinite(number)) {
        return { error: `Parameter '${name}' must be a number.` };
      }
      if (param.type === 'integer' && !Number.isInteger(number)) {
        return { error: `Parameter '${name}' must be a whole number.` };
      }
      value = number;
    }
  }
  if (
    param.enum &&
    param.enum.length &&
    !Array.isArray(value) &&
    !param.enum.includes(value)
  ) {
    return {
      error: `Parameter '${name}' must be one of: ${param.enum.join(', ')}.`
    };
  }
  if (typeof value === 'number') {
    if (typeof param.minimum === 'number' && value < param.minimum) {
      return {
        error: `Parameter '${name}' must be at least ${param.minimum}.`
      };
    }
    if (typeof param.maximum === 'number' && value > param.maximum) {
      return {
        error: `Parameter '${name}' must be at most ${param.maximum}.`
      };
    }
  }
  return { value };
}

/**
 * The overrides to send: only the parameters whose value differs from their
 * default (the rest keep the pipeline's value), and the errors by name.
 */
export function collectOverrides(
  params: readonly IPipelineParameter[],
  inputs: ParameterInputs
): {
  params: { [name: string]: ParameterValue };
  errors: { [name: string]: string };
} {
  const overrides: { [name: string]: ParameterValue } = {};
  const errors: { [name: string]: string } = {};
  for (const param of params) {
    const { value, error } = parseParameter(param, inputs[param.name]);
    if (error) {
      errors[param.name] = error;
    } else if (
      value !== undefined &&
      value !== param.default &&
      !(
        Array.isArray(value) &&
        JSON.stringify(value) === JSON.stringify(param.default)
      )
    ) {
      overrides[param.name] = value;
    }
  }
  return { params: overrides, errors };
}

function hasDefault(param: IPipelineParameter): boolean {
  return (
    param.default !== undefined &&
    param.default !== null &&
    param.default !== ''
  );
}

/**
 * Parameters guessed from the values of an earlier run, for a DAG whose
 * pipeline is not at hand: each keeps its value's type, its value as default.
 */
export function parametersFromValues(values: {
  [name: string]: unknown;
}): IPipelineParameter[] {
  return Object.entries(values ?? {}).map(([name, value]) => {
    const type: IPipelineParameter['type'] = Array.isArray(value)
      ? 'list'
      : typeof value === 'boolean'
        ? 'boolean'
        : typeof value === 'number'
          ? Number.isInteger(value)
            ? 'integer'
            : 'number'
          : 'string';
    const simple =
      typeof value === 'string' ||
      typeof value === 'number' ||
      typeof value === 'boolean';
    return {
      name,
      type,
      default:
        simple || Array.isArray(value)
          ? (value as ParameterValue)
          : value === null
            ? null
            : JSON.stringify(value)
    };
  });
}

/** The parameters declared in a pipeline file's text (none when it cannot be read). */
export function parametersOfPipelineText(text: string): IPipelineParameter[] {
  try {
    const doc = JSON.parse(text);
    const pipelines = Array.isArray(doc?.pipelines) ? doc.pipelines : [];
    const primary =
      pipelines.find((p: any) => p?.id === doc?.primary_pipeline) ??
      pipelines[0];
    return pipelineParameters(primary?.app_data?.mlpipe);
  } catch {
    return [];
  }
}
