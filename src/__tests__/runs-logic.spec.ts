/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { normaliseRun, runPath, runsQuery } from '../runs/client';
import { LogTail } from '../runs/logTail';
import {
  collectOverrides,
  initialInputs,
  parametersFromValues,
  parametersOfPipelineText,
  parseParameter,
  pipelineParameters
} from '../runs/params';
import {
  elapsed,
  failureReport,
  formatDuration,
  gatesText,
  isRunActive,
  isTaskActive,
  sortRuns,
  startedText,
  statusKind,
  taskProgress,
  tasksByNode,
  waitingGates
} from '../runs/states';
import type { IRun, IRunTask } from '../runs/types';

function task(over: Partial<IRunTask>): IRunTask {
  return {
    task_id: 't',
    node_id: null,
    label: null,
    state: 'none',
    try_number: 1,
    started: null,
    ended: null,
    message: null,
    ...over
  };
}

function run(over: Partial<IRun>): IRun {
  return {
    id: 'r1',
    kind: 'local',
    runtime_config: 'local',
    dag_id: 'hello',
    pipeline: 'hello.pipeline',
    state: 'running',
    started: null,
    ended: null,
    params: {},
    message: null,
    links: {},
    tasks: [],
    ...over
  };
}

describe('run and task states', () => {
  it('only queued and running runs are still moving', () => {
    expect(['queued', 'running'].filter(isRunActive)).toEqual([
      'queued',
      'running'
    ]);
    for (const state of ['success', 'failed', 'cancelled', 'unknown']) {
      expect(isRunActive(state)).toBe(false);
    }
  });

  it('tasks are active until success, failure, skip or cancel', () => {
    for (const state of [
      'none',
      'scheduled',
      'queued',
      'running',
      'up_for_retry'
    ]) {
      expect(isTaskActive(state)).toBe(true);
    }
    for (const state of [
      'success',
      'cached',
      'failed',
      'upstream_failed',
      'skipped',
      'cancelled'
    ]) {
      expect(isTaskActive(state)).toBe(false);
    }
  });

  it('maps every Airflow task state to a badge kind', () => {
    expect(statusKind('none')).toBe('pending');
    expect(statusKind(null)).toBe('pending');
    expect(statusKind('scheduled')).toBe('queued');
    expect(statusKind('queued')).toBe('queued');
    expect(statusKind('running')).toBe('running');
    expect(statusKind('up_for_retry')).toBe('retrying');
    expect(statusKind('success')).toBe('success');
    expect(statusKind('cached')).toBe('cached');
    expect(statusKind('failed')).toBe('failed');
    expect(statusKind('upstream_failed')).toBe('upstream_failed');
    expect(statusKind('skipped')).toBe('skipped');
    expect(statusKind('cancelled')).toBe('cancelled');
    expect(statusKind('something new')).toBe('unknown');
  });

  it('finds the task of each node by id, then by label', () => {
    const nodes = [
      { id: 'a', label: 'hello.py' },
      { id: 'b', label: 'world.py' },
      { id: 'c', label: 'unused' }
    ];
    const tasks = [
      task({ task_id: 'hello', node_id: 'a', label: 'hello.py' }),
      task({ task_id: 'world', node_id: 'old-id', label: 'world.py' }),
      task({ task_id: 'extra', node_id: 'zzz', label: 'nobody' })
    ];
    const map = tasksByNode(tasks, nodes);
    expect(map.get('a')?.task_id).toBe('hello');
    expect(map.get('b')?.task_id).toBe('world');
    expect(map.has('c')).toBe(false);
    expect(map.size).toBe(2);
  });

  it('a failure report names the failed node', () => {
    expect(failureReport(run({ state: 'success' }))).toBeNull();
    expect(
      failureReport(run({ state: 'failed', message: 'Node "x" failed: boom' }))
    ).toBe('Node "x" failed: boom');
    const report = failureReport(
      run({
        state: 'failed',
        tasks: [
          task({
            task_id: 'a',
            label: 'fail.py',
            state: 'failed',
            message: 'exit code 1'
          }),
          task({ task_id: 'b', label: 'after.py', state: 'upstream_failed' })
        ]
      })
    );
    expect(report).toBe("Node 'fail.py' failed: exit code 1");
    expect(failureReport(run({ state: 'failed' }))).toBe('The run failed.');
  });

  it('measures and formats durations', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(
      elapsed(
        { started: '2026-01-01T00:00:00Z', ended: '2026-01-01T00:00:42Z' },
        now
      )
    ).toBe(42_000);
    expect(elapsed({ started: '2026-01-01T00:09:00Z', ended: null }, now)).toBe(
      60_000
    );
    expect(elapsed({ started: null, ended: null }, now)).toBeNull();
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(4_900)).toBe('4 s');
    expect(formatDuration(187_000)).toBe('3 min 07 s');
    expect(formatDuration(7_500_000)).toBe('2 h 05 min');
  });

  it('counts progress and sorts runs newest first', () => {
    expect(
      taskProgress([
        task({ state: 'success' }),
        task({ state: 'running' }),
        task({ state: 'failed' }),
        task({ state: 'none' })
      ])
    ).toEqual({ total: 4, done: 2, running: 1, failed: 1 });
    const sorted = sortRuns([
      run({ id: 'old', started: '2026-01-01T00:00:00Z' }),
      run({ id: 'queued', started: null }),
      run({ id: 'new', started: '2026-01-02T00:00:00Z' })
    ]);
    expect(sorted.map(r => r.id)).toEqual(['queued', 'new', 'old']);
  });
});

describe('runs client helpers', () => {
  it('escapes every part of a run path', () => {
    expect(
      runPath({
        runtime_config: 'my cfg',
        dag_id: 'd',
        id: 'manual__2026-01-01T00:00:00+00:00'
      })
    ).toBe('runs/my%20cfg/d/manual__2026-01-01T00%3A00%3A00%2B00%3A00');
  });

  it('leaves empty filters out of the query', () => {
    expect(runsQuery({})).toBe('');
    expect(runsQuery({ runtime_config: 'local', dag_id: '', limit: 20 })).toBe(
      '?runtime_config=local&limit=20'
    );
    expect(runsQuery({ path: 'a b/x.pipeline' })).toBe(
      '?path=a%20b%2Fx.pipeline'
    );
  });

  it('fills in missing lists of a run', () => {
    const bare = {
      ...run({}),
      tasks: undefined,
      params: undefined,
      links: undefined
    } as any;
    const fixed = normaliseRun(bare);
    expect(fixed.tasks).toEqual([]);
    expect(fixed.params).toEqual({});
    expect(fixed.links).toEqual({});
  });
});

describe('LogTail', () => {
  it('appends chunks and moves the offset', () => {
    const tail = new LogTail();
    expect(
      tail.append({ text: 'hello\n', offset: 6, complete: false }, 0)
    ).toBe(true);
    expect(tail.offset).toBe(6);
    expect(
      tail.append({ text: 'world\n', offset: 12, complete: true }, 6)
    ).toBe(true);
    expect(tail.text).toBe('hello\nworld\n');
    expect(tail.complete).toBe(true);
  });

  it('ignores a late reply to an older request', () => {
    const tail = new LogTail();
    tail.append({ text: 'abc', offset: 3, complete: false }, 0);
    expect(tail.append({ text: 'abc', offset: 3, complete: false }, 0)).toBe(
      false
    );
    expect(tail.text).toBe('abc');
    expect(tail.offset).toBe(3);
  });

  it('uses the text length when the server sends no offset', () => {
    const tail = new LogTail();
    tail.append({ text: 'abcd', offset: NaN, complete: false }, 0);
    expect(tail.offset).toBe(4);
  });

  it('keeps only the end of a huge log, from a line start', () => {
    const tail = new LogTail({ maxChars: 20 });
    tail.append(
      { text: 'line one\nline two\n', offset: 18, complete: false },
      0
    );
    expect(tail.truncated).toBe(false);
    tail.append({ text: 'line three\n', offset: 29, complete: false }, 18);
    expect(tail.truncated).toBe(true);
    expect(tail.text).toBe('line two\nline three\n');
    expect(tail.offset).toBe(29);
    tail.append({ text: 'line four\n', offset: 39, complete: false }, 29);
    expect(tail.text).toBe('line four\n');
  });
});

describe('parameters', () => {
  const declared = pipelineParameters({
    parameters: [
      {
        name: 'epochs',
        type: 'integer',
        default: 10,
        minimum: 1,
        maximum: 100
      },
      { name: 'rate', type: 'number', default: 0.1 },
      { name: 'mode', type: 'string', default: 'fast', enum: ['fast', 'slow'] },
      { name: 'dry', type: 'boolean', default: false },
      { name: 'label', type: 'string', required: true },
      { name: 'epochs', type: 'string' },
      { type: 'string' },
      'junk'
    ]
  });

  it('reads the well-formed parameters once each', () => {
    expect(declared.map(p => p.name)).toEqual([
      'epochs',
      'rate',
      'mode',
      'dry',
      'label'
    ]);
    expect(pipelineParameters(null)).toEqual([]);
    expect(pipelineParameters({ parameters: 'x' })).toEqual([]);
  });

  it('starts from the defaults, or from the last overrides', () => {
    expect(initialInputs(declared)).toEqual({
      epochs: '10',
      rate: '0.1',
      mode: 'fast',
      dry: false,
      label: ''
    });
    expect(initialInputs(declared, { epochs: 3, dry: true })).toMatchObject({
      epochs: '3',
      dry: true
    });
  });

  it('types and checks values, naming the parameter', () => {
    const [epochs, rate, mode, dry, label] = declared;
    expect(parseParameter(epochs, '12')).toEqual({ value: 12 });
    expect(parseParameter(epochs, '1.5').error).toBe(
      "Parameter 'epochs' must be a whole number."
    );
    expect(parseParameter(epochs, '0').error).toBe(
      "Parameter 'epochs' must be at least 1."
    );
    expect(parseParameter(epochs, '101').error).toBe(
      "Parameter 'epochs' must be at most 100."
    );
    expect(parseParameter(epochs, '')).toEqual({});
    expect(parseParameter(rate, 'abc').error).toBe(
      "Parameter 'rate' must be a number."
    );
    expect(parseParameter(mode, 'medium').error).toBe(
      "Parameter 'mode' must be one of: fast, slow."
    );
    expect(parseParameter(dry, true)).toEqual({ value: true });
    expect(parseParameter(label, '').error).toBe(
      "Parameter 'label' is required."
    );
  });

  it('sends only the values that differ from the defaults', () => {
    const result = collectOverrides(declared, {
      epochs: '10',
      rate: '0.5',
      mode: 'slow',
      dry: false,
      label: 'x'
    });
    expect(result.errors).toEqual({});
    expect(result.params).toEqual({ rate: 0.5, mode: 'slow', label: 'x' });
    const bad = collectOverrides(declared, { epochs: 'many', label: '' });
    expect(Object.keys(bad.errors).sort()).toEqual(['epochs', 'label']);
  });
});

describe('parameters of earlier runs and pipeline files', () => {
  it('guesses types from the values of an earlier run', () => {
    expect(
      parametersFromValues({
        epochs: 3,
        rate: 0.5,
        dry: true,
        name: 'x',
        cfg: { a: 1 }
      })
    ).toEqual([
      { name: 'epochs', type: 'integer', default: 3 },
      { name: 'rate', type: 'number', default: 0.5 },
      { name: 'dry', type: 'boolean', default: true },
      { name: 'name', type: 'string', default: 'x' },
      { name: 'cfg', type: 'string', default: '{"a":1}' }
    ]);
  });

  it('reads the parameters of the primary pipeline of a file', () => {
    const text = JSON.stringify({
      primary_pipeline: 'p2',
      pipelines: [
        {
          id: 'p1',
          app_data: { mlpipe: { parameters: [{ name: 'no', type: 'string' }] } }
        },
        {
          id: 'p2',
          app_data: {
            mlpipe: { parameters: [{ name: 'yes', type: 'integer' }] }
          }
        }
      ]
    });
    expect(parametersOfPipelineText(text).map(p => p.name)).toEqual(['yes']);
    expect(parametersOfPipelineText('{not json')).toEqual([]);
  });
});

describe('start times', () => {
  it('shows the time today, the date otherwise', () => {
    const now = new Date('2026-03-05T15:00:00');
    const today = startedText(
      new Date('2026-03-05T09:08:07').toISOString(),
      now
    );
    expect(today).toMatch(/09.08.07|9.08.07/);
    const before = startedText(
      new Date('2026-03-01T09:08:07').toISOString(),
      now
    );
    expect(before).toMatch(/Mar|3/);
    expect(before).not.toMatch(/07$/);
    expect(startedText(null)).toBe('–');
  });
});

describe('gates waiting in a collapsed run', () => {
  const gate = {
    task_id: 'approve',
    label: 'Deploy?',
    message: 'Deploy model churn?'
  };

  it("reads the runs list's awaiting, which comes without tasks", () => {
    const listed = run({ awaiting: [gate], tasks: [] });
    expect(waitingGates(listed)).toEqual([gate]);
    expect(gatesText(waitingGates(listed))).toBe('Deploy?');
    expect(waitingGates(run({ awaiting: [] }))).toEqual([]);
    expect(gatesText([])).toBeNull();
  });

  it('names every waiting gate, by task id when it has no label', () => {
    const two = [gate, { task_id: 'second', label: '', message: null }];
    expect(gatesText(two)).toBe('Deploy?, second');
  });

  it("trusts awaiting over the tasks: a decided gate's run says none", () => {
    const decided = run({
      awaiting: [],
      tasks: [task({ task_id: 'approve', state: 'awaiting_approval' })]
    });
    expect(waitingGates(decided)).toEqual([]);
  });

  it('reads the tasks of a run from a server without awaiting', () => {
    const older = run({
      tasks: [
        task({ task_id: 'prep', state: 'success' }),
        task({
          task_id: 'approve',
          label: 'Deploy?',
          state: 'awaiting_approval',
          message: 'Deploy model churn?',
          approval: { message: 'Deploy model churn?', decision: null }
        }),
        task({ task_id: 'gate2', state: 'awaiting_approval' })
      ]
    });
    expect(waitingGates(older)).toEqual([
      gate,
      { task_id: 'gate2', label: 'gate2', message: null }
    ]);
  });

  it('keeps awaiting when a run is normalised', () => {
    expect(normaliseRun(run({ awaiting: [gate] })).awaiting).toEqual([gate]);
  });
});
