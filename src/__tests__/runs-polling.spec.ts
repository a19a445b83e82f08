/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { MLPipeRequestError } from '../request';
import { importWaitText, waitForImport } from '../runs/importWait';
import { Poller } from '../runs/poller';
import { RunsListModel } from '../runs/runsModel';
import type { ILogChunk, IRun, IRunRef } from '../runs/types';
import { IRunsBackend, LogFollower, RunWatcher } from '../runs/watch';

/** Let pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

/** Advance fake time and let the polls it starts settle. */
async function advance(ms: number): Promise<void> {
  jest.advanceTimersByTime(ms);
  await flush();
}

function httpError(status: number, message: string): MLPipeRequestError {
  const response = { status, ok: false, statusText: '' } as Response;
  return new MLPipeRequestError(response, message);
}

const REF: IRunRef = { runtime_config: 'local', dag_id: 'hello', id: 'r1' };

function run(state: string, tasks: Partial<IRun['tasks'][0]>[] = []): IRun {
  return {
    id: 'r1',
    kind: 'local',
    runtime_config: 'local',
    dag_id: 'hello',
    pipeline: 'hello.pipeline',
    state,
    started: '2026-01-01T00:00:00Z',
    ended: null,
    params: {},
    message: null,
    links: {},
    tasks: tasks.map(t => ({
      task_id: 'hello',
      node_id: 'n1',
      label: 'hello.py',
      state: 'running',
      try_number: 1,
      started: null,
      ended: null,
      message: null,
      ...t
    }))
  };
}

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('Poller', () => {
  it('polls at the interval until the watcher says done', async () => {
    const values = [1, 2, 3];
    const poll = jest.fn(() => Promise.resolve(values.shift()!));
    const seen: number[] = [];
    const stops: string[] = [];
    const poller = new Poller<number>({
      poll,
      interval: 1000,
      onValue: v => {
        seen.push(v);
        return v === 3;
      },
      onStop: reason => stops.push(reason)
    });
    poller.start();
    await flush();
    expect(seen).toEqual([1]);
    await advance(999);
    expect(poll).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(seen).toEqual([1, 2]);
    await advance(1000);
    expect(seen).toEqual([1, 2, 3]);
    expect(poller.running).toBe(false);
    expect(stops).toEqual(['done']);
    await advance(10_000);
    expect(poll).toHaveBeenCalledTimes(3);
  });

  it('backs off on failures and gives up after too many in a row', async () => {
    const poll = jest.fn(() => Promise.reject(new Error('down')));
    const failures: number[] = [];
    const poller = new Poller<number>({
      poll,
      interval: 100,
      maxFailures: 3,
      onValue: () => false,
      onError: (_, n) => {
        failures.push(n);
      }
    });
    poller.start();
    await flush();
    expect(failures).toEqual([1]);
    // second try after 100 * 2 ms, third after 100 * 4 ms
    await advance(199);
    expect(poll).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(failures).toEqual([1, 2]);
    await advance(400);
    expect(failures).toEqual([1, 2, 3]);
    expect(poller.stopReason).toBe('failed');
    await advance(10_000);
    expect(poll).toHaveBeenCalledTimes(3);
  });

  it('a success resets the failure count', async () => {
    const replies = [
      Promise.reject(new Error('x')),
      Promise.resolve(1),
      Promise.reject(new Error('y')),
      Promise.resolve(2)
    ];
    replies.forEach(p => p.catch(() => undefined));
    const poller = new Poller<number>({
      poll: () => replies.shift()!,
      interval: 10,
      maxFailures: 2,
      onValue: v => v === 2
    });
    poller.start();
    for (let i = 0; i < 10; i++) {
      await advance(100);
    }
    expect(poller.stopReason).toBe('done');
    expect(replies).toEqual([]);
  });

  it('stops at once when told, even with a call in flight', async () => {
    let resolve!: (v: number) => void;
    const onValue = jest.fn(() => false);
    const poller = new Poller<number>({
      poll: () => new Promise<number>(r => (resolve = r)),
      interval: 10,
      onValue
    });
    poller.start();
    poller.stop();
    resolve(1);
    await flush();
    expect(onValue).not.toHaveBeenCalled();
    expect(poller.stopReason).toBe('stopped');
  });

  it('refresh calls now, or right after the call in flight', async () => {
    const poll = jest.fn(() => Promise.resolve(0));
    const poller = new Poller<number>({
      poll,
      interval: 60_000,
      onValue: () => false
    });
    poller.start();
    poller.refresh(); // in flight: queued
    await flush();
    await advance(0);
    expect(poll).toHaveBeenCalledTimes(2);
    poller.refresh();
    await flush();
    expect(poll).toHaveBeenCalledTimes(3);
    poller.dispose();
  });
});

describe('RunWatcher', () => {
  it('follows a run until it ends, keeping the last state', async () => {
    const states = ['queued', 'running', 'success'];
    const backend: IRunsBackend = {
      get: jest.fn(() => Promise.resolve(run(states.shift()!))),
      log: jest.fn()
    };
    const watcher = new RunWatcher({ ref: REF, interval: 500, backend });
    const seen: string[] = [];
    watcher.changed.connect(() => seen.push(watcher.run?.state ?? '-'));
    watcher.start();
    await flush();
    await advance(500);
    await advance(500);
    expect(watcher.run?.state).toBe('success');
    expect(watcher.following).toBe(false);
    expect(watcher.stopReason).toBe('done');
    expect(seen.filter((s, i) => s !== seen[i - 1])).toEqual([
      'queued',
      'running',
      'success'
    ]);
    await advance(5000);
    expect(backend.get).toHaveBeenCalledTimes(3);
  });

  it('keeps the run shown and says why when the server fails', async () => {
    const replies: Promise<IRun>[] = [
      Promise.resolve(run('running')),
      Promise.reject(httpError(502, 'Airflow at http://x cannot be reached.'))
    ];
    replies.forEach(p => p.catch(() => undefined));
    const backend: IRunsBackend = {
      get: () => replies.shift() ?? Promise.resolve(run('failed')),
      log: jest.fn()
    };
    const watcher = new RunWatcher({ ref: REF, interval: 100, backend });
    watcher.start();
    await flush();
    await advance(100);
    expect(watcher.run?.state).toBe('running');
    expect(watcher.error).toBe('Airflow at http://x cannot be reached.');
    expect(watcher.following).toBe(true);
    await advance(200);
    expect(watcher.error).toBeNull();
    expect(watcher.run?.state).toBe('failed');
    expect(watcher.following).toBe(false);
  });

  it('stops when the run is gone', async () => {
    const backend: IRunsBackend = {
      get: () => Promise.reject(httpError(404, 'no such run')),
      log: jest.fn()
    };
    const watcher = new RunWatcher({ ref: REF, interval: 100, backend });
    watcher.start();
    await flush();
    expect(watcher.following).toBe(false);
    expect(watcher.error).toBe('This run no longer exists on the server.');
  });
});

describe('LogFollower', () => {
  it('tails with the offset until the log is complete', async () => {
    const chunks: ILogChunk[] = [
      { text: 'a\n', offset: 2, complete: false },
      { text: 'b\n', offset: 4, complete: false },
      { text: '', offset: 4, complete: false },
      { text: 'c\n', offset: 6, complete: true }
    ];
    const log = jest.fn(() => Promise.resolve(chunks.shift()!));
    const follower = new LogFollower({
      ref: REF,
      taskId: 'hello',
      tryNumber: 1,
      interval: 250,
      backend: { get: jest.fn(), log }
    });
    follower.start();
    await flush();
    for (let i = 0; i < 3; i++) {
      await advance(250);
    }
    expect(follower.tail.text).toBe('a\nb\nc\n');
    expect(follower.following).toBe(false);
    expect(log.mock.calls.map((c: any[]) => c[2].offset)).toEqual([0, 2, 4, 4]);
    expect(log.mock.calls[0]).toEqual([
      REF,
      'hello',
      { tryNumber: 1, offset: 0 }
    ]);
  });

  it('stops when the task is over and nothing more comes', async () => {
    let state = 'running';
    const log = jest.fn(() =>
      Promise.resolve<ILogChunk>({ text: '', offset: 0, complete: false })
    );
    const follower = new LogFollower({
      ref: REF,
      taskId: 'hello',
      interval: 100,
      taskState: () => state,
      backend: { get: jest.fn(), log }
    });
    follower.start();
    await flush();
    await advance(100);
    expect(follower.following).toBe(true);
    state = 'success';
    await advance(100);
    expect(follower.following).toBe(false);
  });

  it('waits for the log of a task that has not started', async () => {
    let state = 'queued';
    const replies: Promise<ILogChunk>[] = [
      Promise.reject(httpError(404, 'no log')),
      Promise.resolve({ text: 'started\n', offset: 8, complete: true })
    ];
    replies.forEach(p => p.catch(() => undefined));
    const follower = new LogFollower({
      ref: REF,
      taskId: 'hello',
      interval: 100,
      taskState: () => state,
      backend: { get: jest.fn(), log: () => replies.shift()! }
    });
    follower.start();
    await flush();
    expect(follower.error).toBe('There is no log for this task yet.');
    expect(follower.following).toBe(true);
    state = 'running';
    await advance(200);
    expect(follower.tail.text).toBe('started\n');
    expect(follower.error).toBeNull();
    expect(follower.following).toBe(false);
  });
});

describe('waitForImport', () => {
  it('tells every failed check at once while it keeps trying', async () => {
    const unreachable = httpError(
      502,
      'Airflow at http://127.0.0.1:9 cannot be reached: connection refused.'
    );
    const replies: (() => Promise<any>)[] = [
      () => Promise.reject(unreachable),
      () => Promise.reject(unreachable),
      () => Promise.resolve({ state: 'imported', errors: [] })
    ];
    const errors: [string, number][] = [];
    const done = waitForImport({
      runtimeConfig: 'prod',
      dagId: 'hello',
      interval: 1000,
      timeout: 60_000,
      check: () => replies.shift()!(),
      onError: (message, failures) => errors.push([message, failures])
    });
    await flush();
    // the first failure is told before any retry
    expect(errors).toEqual([[unreachable.message, 1]]);
    await advance(10_000);
    await advance(10_000);
    expect((await done).state).toBe('imported');
    expect(errors.map(e => e[1])).toEqual([1, 2]);
  });

  it('words the wait: a moving counter, and the error while checks fail', () => {
    const trans = {
      __: (text: string, ...args: any[]) =>
        args.reduce<string>(
          (t, a, i) => t.replace(`%${i + 1}`, String(a)),
          text
        )
    };
    expect(
      importWaitText(
        { dagId: 'hello', commit: 'abcdef1234567', elapsed: 3 },
        trans
      )
    ).toBe(
      'Waiting for Airflow to import DAG "hello" at commit abcdef1234… 3 s'
    );
    expect(
      importWaitText(
        {
          dagId: 'hello',
          elapsed: 14,
          error: 'Airflow at http://x cannot be reached.',
          failures: 3
        },
        trans
      )
    ).toBe(
      '14 s · failed 3×, trying again: Airflow at http://x cannot be reached.'
    );
  });

  const status = (state: string, extra: object = {}) => ({
    state,
    errors: [],
    ...extra
  });

  it('polls until Airflow imported the DAG at the commit', async () => {
    const replies = [status('waiting'), status('waiting'), status('imported')];
    const check = jest.fn(() => Promise.resolve(replies.shift()!));
    const seen: string[] = [];
    const done = waitForImport({
      runtimeConfig: 'prod',
      dagId: 'hello',
      commit: 'abc123',
      interval: 1000,
      timeout: 60_000,
      check,
      onStatus: s => seen.push(s.state)
    });
    await flush();
    await advance(1000);
    await advance(1000);
    const outcome = await done;
    expect(outcome.state).toBe('imported');
    expect(seen).toEqual(['waiting', 'waiting', 'imported']);
    expect(check.mock.calls[0]).toEqual([
      { runtime_config: 'prod', dag_id: 'hello', commit: 'abc123' }
    ]);
  });

  it('stops at import errors, with them', async () => {
    const errors = [{ filename: 'dags/hello.py', message: 'SyntaxError' }];
    const outcome = await waitForImport({
      runtimeConfig: 'prod',
      dagId: 'hello',
      interval: 1000,
      timeout: 60_000,
      check: () => Promise.resolve(status('import_error', { errors }))
    });
    expect(outcome).toEqual({
      state: 'import_error',
      status: { state: 'import_error', errors }
    });
  });

  it('gives up at the deadline', async () => {
    let clock = 0;
    const done = waitForImport({
      runtimeConfig: 'prod',
      dagId: 'hello',
      interval: 1000,
      timeout: 3000,
      now: () => clock,
      check: () => Promise.resolve(status('waiting'))
    });
    for (let i = 0; i < 4; i++) {
      await flush();
      clock += 1000;
      await advance(1000);
    }
    const outcome = await done;
    expect(outcome.state).toBe('timeout');
  });

  it('keeps asking through a passing outage, and stops on a 4xx', async () => {
    const replies: Promise<any>[] = [
      Promise.reject(httpError(502, 'Airflow cannot be reached')),
      Promise.resolve(status('imported'))
    ];
    replies.forEach(p => p.catch(() => undefined));
    const done = waitForImport({
      runtimeConfig: 'prod',
      dagId: 'hello',
      interval: 100,
      timeout: 60_000,
      check: () => replies.shift()!
    });
    await flush();
    await advance(200);
    expect((await done).state).toBe('imported');

    const bad = await waitForImport({
      runtimeConfig: 'prod',
      dagId: 'nope',
      interval: 100,
      timeout: 60_000,
      check: () => Promise.reject(httpError(404, 'No DAG "nope" in Airflow.'))
    });
    expect(bad).toEqual({
      state: 'failed',
      message: 'No DAG "nope" in Airflow.'
    });
  });

  it('stops when the user gives up', async () => {
    const abort = new AbortController();
    const done = waitForImport({
      runtimeConfig: 'prod',
      dagId: 'hello',
      interval: 1000,
      timeout: 60_000,
      signal: abort.signal,
      check: () => Promise.resolve(status('waiting'))
    });
    await flush();
    abort.abort();
    expect((await done).state).toBe('cancelled');
  });
});

describe('RunsListModel', () => {
  it('refreshes while a run is moving, then stops', async () => {
    const lists = [[run('running')], [run('running')], [run('success')]];
    const list = jest.fn(() =>
      Promise.resolve(lists.shift() ?? [run('success')])
    );
    const model = new RunsListModel({
      interval: () => 500,
      limit: () => 20,
      backend: { list }
    });
    model.select('local');
    await flush();
    expect(model.runs[0].state).toBe('running');
    expect(model.autoRefreshing).toBe(true);
    await advance(500);
    await advance(500);
    expect(model.runs[0].state).toBe('success');
    expect(model.autoRefreshing).toBe(false);
    await advance(5000);
    expect(list).toHaveBeenCalledTimes(3);
    expect(list.mock.calls[0]).toEqual([
      { runtime_config: 'local', dag_id: undefined, limit: 20 }
    ]);
    // a refresh (e.g. a run was started) reads again
    model.refresh();
    await flush();
    expect(list).toHaveBeenCalledTimes(4);
    model.dispose();
  });

  it('waits for a DAG id before listing Airflow runs', async () => {
    const list = jest.fn(() => Promise.resolve([] as IRun[]));
    const model = new RunsListModel({
      interval: () => 500,
      limit: () => 20,
      backend: { list }
    });
    model.select('prod', { isAirflow: true });
    await flush();
    expect(list).not.toHaveBeenCalled();
    expect(model.needsDag).toBe(true);
    model.setDagId('hello');
    await flush();
    expect(list).toHaveBeenCalledWith({
      runtime_config: 'prod',
      dag_id: 'hello',
      limit: 20
    });
    model.dispose();
  });

  it('shows the error of a bad filter in words and does not retry it', async () => {
    const list = jest.fn(() =>
      Promise.reject(httpError(400, 'Give a DAG id to list Airflow runs.'))
    );
    const model = new RunsListModel({
      interval: () => 100,
      limit: () => 20,
      backend: { list }
    });
    model.select('prod', { isAirflow: true, dagId: 'x' });
    await flush();
    await advance(5000);
    expect(model.error).toBe('Give a DAG id to list Airflow runs.');
    expect(list).toHaveBeenCalledTimes(1);
    model.dispose();
  });

  it('expands a run with its tasks and follows it while it runs', async () => {
    const details = [
      run('running', [{ state: 'running' }]),
      run('success', [{ state: 'success' }])
    ];
    const get = jest.fn(() => Promise.resolve(details.shift()!));
    const model = new RunsListModel({
      interval: () => 200,
      limit: () => 20,
      backend: { list: () => Promise.resolve([run('running')]) },
      runBackend: { get, log: jest.fn() }
    });
    model.select('local');
    await flush();
    model.toggle(model.runs[0]);
    await flush();
    expect(model.isExpanded(model.runs[0])).toBe(true);
    expect(model.details(model.runs[0])?.run?.tasks[0].state).toBe('running');
    await advance(200);
    expect(model.details(model.runs[0])?.run?.state).toBe('success');
    // the list shows the final state too
    expect(model.runs[0].state).toBe('success');
    model.toggle(model.runs[0]);
    expect(model.isExpanded(model.runs[0])).toBe(false);
    model.dispose();
  });
});
