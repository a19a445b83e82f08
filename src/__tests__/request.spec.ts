/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { ServerConnection } from '@jupyterlab/services';

import {
  countSchemas,
  MLPipeRequestError,
  parseErrorReply,
  requestAPI
} from '../request';

/** A minimal fetch Response: what requestAPI and ResponseError read. */
function fakeResponse(status: number, body: string, statusText = ''): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText,
    text: () => Promise.resolve(body)
  } as unknown as Response;
}

const settings = ServerConnection.makeSettings({
  baseUrl: 'http://localhost:8888/lab-base/'
});

describe('requestAPI', () => {
  let makeRequest: jest.SpyInstance;

  beforeEach(() => {
    makeRequest = jest.spyOn(ServerConnection, 'makeRequest');
  });

  afterEach(() => {
    makeRequest.mockRestore();
  });

  it('calls /mlpipe-lab/<endPoint> below the base URL and decodes JSON', async () => {
    makeRequest.mockResolvedValue(fakeResponse(200, '{"schemas": ["a", "b"]}'));
    const init = { method: 'GET' };
    const reply = await requestAPI<{ schemas: string[] }>(
      'schemas',
      init,
      settings
    );
    expect(reply).toEqual({ schemas: ['a', 'b'] });
    expect(makeRequest).toHaveBeenCalledWith(
      'http://localhost:8888/lab-base/mlpipe-lab/schemas',
      init,
      settings
    );
  });

  it('returns null for an empty body and the text for a non-JSON one', async () => {
    makeRequest.mockResolvedValueOnce(fakeResponse(204, ''));
    expect(await requestAPI('x', {}, settings)).toBeNull();
    makeRequest.mockResolvedValueOnce(fakeResponse(200, 'plain text'));
    expect(await requestAPI('x', {}, settings)).toBe('plain text');
  });

  it('throws the server message and problems of an error reply', async () => {
    const problems = [
      {
        code: 'missing-image',
        message: 'no runtime image',
        severity: 'error',
        node_id: 'n1',
        path: 'runtime_image'
      }
    ];
    makeRequest.mockResolvedValue(
      fakeResponse(
        400,
        JSON.stringify({ error: { message: 'invalid pipeline', problems } }),
        'Bad Request'
      )
    );
    const error = await requestAPI('compile', { method: 'POST' }, settings)
      .then(() => null)
      .catch(e => e);
    expect(error).toBeInstanceOf(MLPipeRequestError);
    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.message).toBe('invalid pipeline');
    expect(error.problems).toEqual(problems);
    expect(error.status).toBe(400);
    expect(error.code).toBeNull();
    expect(error.details).toEqual({});
  });

  it('carries the code and details of a refusal to the caller', async () => {
    makeRequest.mockResolvedValue(
      fakeResponse(
        409,
        JSON.stringify({
          error: {
            message: 'exists',
            code: 'output-not-generated',
            details: { dag_path: 'p/dags/x.py' }
          }
        })
      )
    );
    const error = await requestAPI('export', { method: 'POST' }, settings)
      .then(() => null)
      .catch(e => e);
    expect(error.code).toBe('output-not-generated');
    expect(error.details).toEqual({ dag_path: 'p/dags/x.py' });
  });

  it('falls back to the status when the error body says nothing', async () => {
    makeRequest.mockResolvedValue(
      fakeResponse(404, '<html>Not Found</html>', 'Not Found')
    );
    await expect(requestAPI('schemas', {}, settings)).rejects.toThrow(
      'mlpipe-lab: GET schemas failed (404 Not Found)'
    );
  });

  it('uses the message of a plain Jupyter server error', async () => {
    makeRequest.mockResolvedValue(
      fakeResponse(403, '{"message": "Forbidden", "reason": null}')
    );
    await expect(requestAPI('schemas', {}, settings)).rejects.toThrow(
      'Forbidden'
    );
  });

  it('wraps a failed fetch in a NetworkError', async () => {
    makeRequest.mockRejectedValue(new TypeError('Failed to fetch'));
    await expect(requestAPI('schemas', {}, settings)).rejects.toBeInstanceOf(
      ServerConnection.NetworkError
    );
  });
});

describe('parseErrorReply', () => {
  it.each([
    [null, null],
    ['text', null],
    [[1, 2], null],
    [{}, null],
    [{ error: {} }, null],
    [{ error: { message: '' } }, null],
    [{ error: 'plain' }, 'plain'],
    [{ error: { message: 'm' } }, 'm'],
    [{ reason: 'r' }, 'r']
  ])('%j -> message %j', (body, message) => {
    expect(parseErrorReply(body).message).toBe(message);
  });

  it('keeps only well-formed problems', () => {
    const { problems } = parseErrorReply({
      error: {
        message: 'm',
        problems: [{ message: 'ok' }, 'junk', { code: 'no-message' }, null]
      }
    });
    expect(problems).toEqual([{ message: 'ok' }]);
  });

  it('keeps the code and details a client acts on (export: ask, then overwrite)', () => {
    const reply = parseErrorReply({
      error: {
        message: "'a/dags/x.py' holds an earlier export of x.pipeline",
        code: 'output-exists',
        field: 'overwrite',
        details: { dag_path: 'a/dags/x.py', source: 'x.pipeline' }
      }
    });
    expect(reply.code).toBe('output-exists');
    expect(reply.field).toBe('overwrite');
    expect(reply.details).toEqual({
      dag_path: 'a/dags/x.py',
      source: 'x.pipeline'
    });
    expect(parseErrorReply({ error: { message: 'm', details: 3 } })).toEqual({
      message: 'm',
      problems: []
    });
  });
});

describe('countSchemas', () => {
  it.each([
    [['a', 'b', 'c'], 3],
    [{ schemas: ['a'] }, 1],
    [{ schemas: { a: {}, b: {} } }, 2],
    [{ a: {}, b: {}, c: {}, d: {} }, 4],
    [null, 0]
  ])('%j -> %d', (reply, n) => {
    expect(countSchemas(reply as any)).toBe(n);
  });
});
