/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * A small JSON Schema matcher for the form component.
 *
 * The server validates pipelines and catalog entries (and its problems are shown
 * on the fields), so the form only needs a validator to pick `oneOf` branches
 * and resolve `if`/`then` conditions; this covers the keywords our schemas use
 * without bundling a full JSON Schema validator.
 */

import type { RJSFValidationError, ValidatorType } from '@rjsf/utils';

import { IJSONObject, isObject, jsonEqual } from '../model/elyra';

function typeOf(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'array';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? 'integer' : 'number';
  }
  return typeof value;
}

function typeMatches(expected: unknown, value: unknown): boolean {
  const actual = typeOf(value);
  const list = Array.isArray(expected) ? expected : [expected];
  return list.some(
    t => t === actual || (t === 'number' && actual === 'integer')
  );
}

function resolveRef(ref: string, root: IJSONObject): IJSONObject | null {
  if (!ref.startsWith('#')) {
    return null;
  }
  let current: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(current)) {
      return null;
    }
    current = current[part];
  }
  return isObject(current) ? current : null;
}

/** Whether `value` satisfies `schema` (the keywords used by mlpipe-lab's schemas). */
export function matchesSchema(
  schema: unknown,
  value: unknown,
  root: IJSONObject = isObject(schema) ? schema : {}
): boolean {
  if (schema === true || schema === undefined) {
    return true;
  }
  if (schema === false || !isObject(schema)) {
    return false;
  }
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(schema.$ref, root);
    if (target && !matchesSchema(target, value, root)) {
      return false;
    }
  }
  if (schema.type !== undefined && !typeMatches(schema.type, value)) {
    return false;
  }
  if ('const' in schema && !jsonEqual(schema.const, value)) {
    return false;
  }
  if (
    Array.isArray(schema.enum) &&
    !schema.enum.some((e: unknown) => jsonEqual(e, value))
  ) {
    return false;
  }
  if (typeof value === 'string') {
    if (
      typeof schema.minLength === 'number' &&
      value.length < schema.minLength
    ) {
      return false;
    }
    if (
      typeof schema.maxLength === 'number' &&
      value.length > schema.maxLength
    ) {
      return false;
    }
    if (typeof schema.pattern === 'string') {
      try {
        if (!new RegExp(schema.pattern, 'u').test(value)) {
          return false;
        }
      } catch {
        // a pattern JavaScript cannot compile is not checked here
      }
    }
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) {
      return false;
    }
    if (typeof schema.maximum === 'number' && value > schema.maximum) {
      return false;
    }
    if (
      typeof schema.exclusiveMinimum === 'number' &&
      value <= schema.exclusiveMinimum
    ) {
      return false;
    }
  }
  if (isObject(value)) {
    if (
      Array.isArray(schema.required) &&
      !schema.required.every((key: string) => value[key] !== undefined)
    ) {
      return false;
    }
    if (isObject(schema.properties)) {
      for (const [key, sub] of Object.entries(schema.properties)) {
        if (value[key] !== undefined && !matchesSchema(sub, value[key], root)) {
          return false;
        }
      }
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    if (!value.every(item => matchesSchema(schema.items, item, root))) {
      return false;
    }
  }
  if (
    Array.isArray(schema.allOf) &&
    !schema.allOf.every((s: unknown) => matchesSchema(s, value, root))
  ) {
    return false;
  }
  if (
    Array.isArray(schema.anyOf) &&
    !schema.anyOf.some((s: unknown) => matchesSchema(s, value, root))
  ) {
    return false;
  }
  if (
    Array.isArray(schema.oneOf) &&
    schema.oneOf.filter((s: unknown) => matchesSchema(s, value, root))
      .length !== 1
  ) {
    return false;
  }
  if ('not' in schema && matchesSchema(schema.not, value, root)) {
    return false;
  }
  if ('if' in schema) {
    const branch = matchesSchema(schema.if, value, root)
      ? schema.then
      : schema.else;
    if (branch !== undefined && !matchesSchema(branch, value, root)) {
      return false;
    }
  }
  return true;
}

function errorList(
  errorSchema: IJSONObject | undefined,
  path: string[] = []
): RJSFValidationError[] {
  if (!isObject(errorSchema)) {
    return [];
  }
  const out: RJSFValidationError[] = [];
  for (const [key, value] of Object.entries(errorSchema)) {
    if (key === '__errors' && Array.isArray(value)) {
      for (const message of value) {
        const property = path.length ? `.${path.join('.')}` : '.';
        out.push({ property, message, stack: `${property} ${message}` });
      }
    } else if (isObject(value)) {
      out.push(...errorList(value, [...path, key]));
    }
  }
  return out;
}

/** The validator given to JupyterLab's form component. */
export const formValidator: ValidatorType = {
  validateFormData: () => ({ errors: [], errorSchema: {} }),
  toErrorList: (errorSchema, fieldPath = []) =>
    errorList(errorSchema as IJSONObject, fieldPath),
  isValid: (schema, formData, rootSchema) =>
    matchesSchema(schema, formData, rootSchema as IJSONObject),
  rawValidation: () => ({ errors: [] })
};
