/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { EXTENSION_ID, MLPipeAPI } from './tokens';

/**
 * A failed call to the mlpipe-lab REST API.
 *
 * `message` is the server's own message when it sent one, and `problems` the
 * pipeline problems that came with it (empty otherwise).
 */
export class MLPipeRequestError extends ServerConnection.ResponseError {
  constructor(
    response: Response,
    message: string,
    readonly problems: MLPipeAPI.IProblem[] = [],
    readonly field: string | null = null,
    /** What kind of error (e.g. `output-exists`), for callers that act on it. */
    readonly code: string | null = null,
    /** Facts about the error (e.g. the file in the way). */
    readonly details: { [key: string]: unknown } = {}
  ) {
    super(response, message);
    this.name = 'MLPipeRequestError';
  }

  /** HTTP status code of the reply. */
  get status(): number {
    return this.response.status;
  }
}

/**
 * What an error body says: the message and problems of an `{"error": {...}}`
 * reply, or the `message`/`reason` of a plain Jupyter server error.
 */
export function parseErrorReply(body: unknown): {
  message: string | null;
  problems: MLPipeAPI.IProblem[];
  field?: string;
  code?: string;
  details?: { [key: string]: unknown };
} {
  if (!isObject(body)) {
    return { message: null, problems: [] };
  }
  const error = body.error;
  if (isObject(error)) {
    const message =
      typeof error.message === 'string' && error.message ? error.message : null;
    const problems = Array.isArray(error.problems)
      ? (error.problems.filter(
          p => isObject(p) && typeof p.message === 'string'
        ) as MLPipeAPI.IProblem[])
      : [];
    return {
      message,
      problems,
      ...(typeof error.field === 'string' && error.field
        ? { field: error.field }
        : {}),
      ...(typeof error.code === 'string' && error.code
        ? { code: error.code }
        : {}),
      ...(isObject(error.details) ? { details: error.details } : {})
    };
  }
  if (typeof error === 'string' && error) {
    return { message: error, problems: [] };
  }
  for (const key of ['message', 'reason']) {
    const value = body[key];
    if (typeof value === 'string' && value) {
      return { message: value, problems: [] };
    }
  }
  return { message: null, problems: [] };
}

/**
 * Call the mlpipe-lab REST API.
 *
 * @param endPoint path below `/mlpipe-lab/`, e.g. `schemas`
 * @param init fetch options (method, body...)
 * @param settings server connection settings (defaults to the page's)
 * @returns the decoded JSON reply (or its text when it is not JSON, `null` when empty)
 * @throws {MLPipeRequestError} when the server answers with a non-2xx status
 * @throws {ServerConnection.NetworkError} when the server cannot be reached
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, EXTENSION_ID, endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: unknown = text.length > 0 ? text : null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
  }

  if (!response.ok) {
    const { message, problems, field, code, details } = parseErrorReply(data);
    const fallback =
      `${EXTENSION_ID}: ${init.method ?? 'GET'} ${endPoint} failed ` +
      `(${response.status}${response.statusText ? ` ${response.statusText}` : ''})`;
    throw new MLPipeRequestError(
      response,
      message ?? fallback,
      problems,
      field ?? null,
      code ?? null,
      details ?? {}
    );
  }

  return data as T;
}

/**
 * How many schemas a `GET /mlpipe-lab/schemas` reply lists.
 */
export function countSchemas(reply: MLPipeAPI.SchemasReply | null): number {
  if (Array.isArray(reply)) {
    return reply.length;
  }
  if (!isObject(reply)) {
    return 0;
  }
  const inner = reply.schemas;
  if (Array.isArray(inner)) {
    return inner.length;
  }
  if (isObject(inner)) {
    return Object.keys(inner).length;
  }
  return Object.keys(reply).length;
}

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
