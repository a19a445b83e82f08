/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * How a form shows the problems of a field: errors red, warnings orange (a
 * warning does not stop an export), each a sentence from the server.
 */

import type { FieldErrorProps } from '@rjsf/utils';
import * as React from 'react';

import { IJSONObject } from '../model/elyra';

/** How `problemsToErrorSchema` marks a warning among a field's messages. */
export const WARNING_PREFIX = 'Warning: ';

/** The messages of one field, each marked error or warning. */
export function FieldProblems(props: FieldErrorProps): JSX.Element | null {
  const errors = (props.errors ?? []).filter(e => !!e);
  if (!errors.length) {
    return null;
  }
  return (
    <ul
      id={`${props.idSchema.$id}__error`}
      className="error-detail jp-MLPipe-FieldProblems"
    >
      {errors.map((error, index) => {
        const warning =
          typeof error === 'string' && error.startsWith(WARNING_PREFIX);
        return (
          <li
            key={index}
            className={
              warning ? 'jp-MLPipe-FieldWarning' : 'jp-MLPipe-FieldError'
            }
          >
            {error}
          </li>
        );
      })}
    </ul>
  );
}

/** A UI schema whose fields show their problems with `FieldProblems`. */
export function withFieldProblems(uiSchema: IJSONObject): IJSONObject {
  const global = (uiSchema['ui:globalOptions'] ?? {}) as IJSONObject;
  return {
    ...uiSchema,
    'ui:globalOptions': { ...global, FieldErrorTemplate: FieldProblems as any }
  };
}
