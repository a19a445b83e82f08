/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { MLPipeRequestError } from '../request';
import { Poller } from '../runs/poller';
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
    expect(log.mock.calls[0]).toEqual([REF, 'hello', { tryNumber: 1, offset: 0 }]);
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
