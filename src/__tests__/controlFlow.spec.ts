/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Control flow in the editor and the runs views (issue #15): the branch rule
 * editor's logic, the value_from and fan-out pickers' choices, the task
 * states of gates / branches / fan-outs, and the decision call.
 */

import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';

import { nodeFormSchema, graphChoices } from '../editor/properties';
import { errorsBelow, errorsInside } from '../forms/controlFlow';
import { problemsToErrorSchema } from '../forms/patch';
import { toFormSchema, WIDGET_FIELD } from '../forms/schema';
import { parseScalarOrList } from '../forms/widgets';
import {
  ancestorsOf,
  APPROVAL_OP,
  BRANCH_OP,
  childrenOf,
  describeValueFrom,
  distinctLabels,
  IBranchRule,
  listParameters,
  moveRule,
  newRule,
  parseRuleValue,
  readRules,
  readValueFrom,
  removeRule,
  ruleValueText,
  staleTargets,
  switchValueFrom,
  takesList,
  takesValue,
  toggleTarget,
  unreachedChildren,
  updateRule
} from '../model/controlFlow';
import { PipelineEditorModel } from '../model/model';
import { createNodeTypes } from '../plugins/registry';
import { RunsClient } from '../runs/client';
import { decisionFailure, sendDecision } from '../runs/decision';
import {
  collectOverrides,
  initialInput,
  parametersFromValues,
  parseParameter,
  pipelineParameters
} from '../runs/params';
import {
  awaitingApproval,
  isTaskActive,
  itemsProgress,
  stateDetails,
  STATUS_LABELS,
  statusKind,
  taskProgress
} from '../runs/states';
import type { IRun, IRunTask } from '../runs/types';
import { MLPipeRequestError } from '../request';

const trans = nullTranslator.load('mlpipe_lab');

const children = [
  { id: 'n-deploy', label: 'deploy' },
  { id: 'n-retrain', label: 'retrain' },
  { id: 'n-report', label: 'report' }
];

describe('branch rule editor', () => {
  it('reads rule values as typed: numbers, booleans, quoted text, lists', () => {
    expect(parseRuleValue('0.9', '>=')).toBe(0.9);
    expect(parseRuleValue(' true ', '==')).toBe(true);
    expect(parseRuleValue('"0.9"', '==')).toBe('0.9');
    expect(parseRuleValue('fast', '==')).toBe('fast');
    expect(parseRuleValue('', '==')).toBeUndefined();
    expect(parseRuleValue('a, b ,3', 'in')).toEqual(['a', 'b', 3]);
    expect(parseRuleValue('["a,b", 1]', 'not in')).toEqual(['a,b', 1]);
    // is true / is false take no value at all
    expect(parseRuleValue('yes', 'is true')).toBeUndefined();
    expect(takesValue('is false')).toBe(false);
    expect(takesList('in')).toBe(true);
    expect(takesList('==')).toBe(false);
  });

  it('shows stored values so that they read back the same', () => {
    const cases: [unknown, string][] = [
      [0.9, '>='],
      ['fast', '=='],
      ['0.9', '=='],
      ['true', '!='],
      [false, '=='],
      [['a', 'b', 3], 'in'],
      [['a,b', ' c'], 'not in'],
      [['1', 'x'], 'in']
    ];
    for (const [value, op] of cases) {
      expect(parseRuleValue(ruleValueText(value, op), op)).toEqual(value);
    }
    expect(ruleValueText(['a', 'b'], 'in')).toBe('a, b');
    expect(ruleValueText(undefined, '==')).toBe('');
  });

  it('reads stored rules defensively', () => {
    expect(readRules(undefined)).toEqual([]);
    expect(
      readRules([{ op: '>', value: 1, run: ['a', 3] }, 'junk', { run: 'x' }])
    ).toEqual([
      { op: '>', value: 1, run: ['a'] },
      { op: '==', run: [] }
    ]);
  });

  it('adds a rule for the first linked node no rule runs yet', () => {
    const rules: IBranchRule[] = [{ op: '>=', value: 0.9, run: ['n-deploy'] }];
    expect(newRule(rules, children)).toEqual({ op: '==', run: ['n-retrain'] });
    expect(newRule([], [])).toEqual({ op: '==', run: [] });
  });

  it('converts the value when the comparison changes', () => {
    const rules: IBranchRule[] = [{ op: '==', value: 'a', run: ['n-deploy'] }];
    const asList = updateRule(rules, 0, { op: 'in' });
    expect(asList[0]).toEqual({ op: 'in', value: ['a'], run: ['n-deploy'] });
    const back = updateRule(asList, 0, { op: '!=' });
    expect(back[0]).toEqual({ op: '!=', value: 'a', run: ['n-deploy'] });
    const noValue = updateRule(back, 0, { op: 'is true' });
    expect(noValue[0]).toEqual({ op: 'is true', run: ['n-deploy'] });
    expect('value' in noValue[0]).toBe(false);
    // the other rules and the input are untouched
    expect(rules[0].value).toBe('a');
  });

  it('orders and removes rules (the first match wins)', () => {
    const rules: IBranchRule[] = [
      { op: '>=', value: 0.9, run: ['n-deploy'] },
      { op: '>=', value: 0.5, run: ['n-retrain'] },
      { op: '<', value: 0.5, run: ['n-report'] }
    ];
    expect(moveRule(rules, 2, -1).map(r => r.value)).toEqual([0.9, 0.5, 0.5]);
    expect(moveRule(rules, 2, -1).map(r => r.op)).toEqual(['>=', '<', '>=']);
    expect(moveRule(rules, 0, -1)).toEqual(rules);
    expect(moveRule(rules, 2, 1)).toEqual(rules);
    expect(removeRule(rules, 1).map(r => r.run[0])).toEqual([
      'n-deploy',
      'n-report'
    ]);
  });

  it('picks targets in the order of the linked nodes, keeping unlinked ones until unticked', () => {
    expect(toggleTarget([], 'n-report', true, children)).toEqual(['n-report']);
    expect(toggleTarget(['n-report'], 'n-deploy', true, children)).toEqual([
      'n-deploy',
      'n-report'
    ]);
    // a node that was unlinked stays listed (the form marks it) until unticked
    const withGone = ['gone', 'n-report'];
    expect(staleTargets(withGone, children)).toEqual(['gone']);
    expect(toggleTarget(withGone, 'n-deploy', true, children)).toEqual([
      'n-deploy',
      'n-report',
      'gone'
    ]);
    expect(toggleTarget(withGone, 'gone', false, children)).toEqual([
      'n-report'
    ]);
  });

  it('tells which linked nodes can never run', () => {
    const rules: IBranchRule[] = [{ op: '==', value: 1, run: ['n-deploy'] }];
    expect(unreachedChildren(rules, ['n-report'], children)).toEqual([
      { id: 'n-retrain', label: 'retrain' }
    ]);
    expect(
      unreachedChildren(rules, ['n-retrain', 'n-report'], children)
    ).toEqual([]);
  });

  it('offers nodes by label, numbering labels several nodes share', () => {
    const labels = distinctLabels([
      { id: 'a', label: 'train' },
      { id: 'b', label: 'train' },
      { id: 'c', label: 'eval' }
    ]);
    expect([...labels.values()]).toEqual(['train (1)', 'train (2)', 'eval']);
  });
});

describe('value_from and the graph around a node', () => {
  const nodes = ['prep', 'train', 'eval', 'branch', 'deploy', 'other'].map(
    id => ({ id, label: id.toUpperCase() })
  );
  const edges = [
    { source: 'prep', target: 'train' },
    { source: 'train', target: 'eval' },
    { source: 'eval', target: 'branch' },
    { source: 'branch', target: 'deploy' },
    { source: 'other', target: 'deploy' }
  ];

  it('offers ancestors for "result of an upstream node" and children for rules', () => {
    expect(ancestorsOf('branch', edges, nodes).map(n => n.id)).toEqual([
      'prep',
      'train',
      'eval'
    ]);
    expect(ancestorsOf('prep', edges, nodes)).toEqual([]);
    expect(childrenOf('branch', edges, nodes)).toEqual([
      { id: 'deploy', label: 'DEPLOY' }
    ]);
  });

  it('reads, switches and describes a value_from', () => {
    expect(readValueFrom({ from: 'parameter', parameter: 'mode' })).toEqual({
      from: 'parameter',
      parameter: 'mode'
    });
    expect(
      readValueFrom({ from: 'result', node: 'eval', key: 'metrics.acc' })
    ).toEqual({ from: 'result', node: 'eval', key: 'metrics.acc' });
    expect(readValueFrom({ from: 'result', node: 'eval', key: '' })).toEqual({
      from: 'result',
      node: 'eval'
    });
    expect(readValueFrom('mode')).toBeNull();
    const ancestors = ancestorsOf('branch', edges, nodes);
    // switching to "result" preselects the nearest ancestor
    expect(switchValueFrom(null, 'result', ['mode'], ancestors)).toEqual({
      from: 'result',
      node: 'eval'
    });
    expect(switchValueFrom(null, 'parameter', ['mode'], ancestors)).toEqual({
      from: 'parameter',
      parameter: 'mode'
    });
    const labels = new Map(nodes.map(n => [n.id, n.label]));
    expect(
      describeValueFrom({ from: 'result', node: 'eval', key: 'acc' }, labels)
    ).toBe('EVAL › acc');
    expect(
      describeValueFrom({ from: 'parameter', parameter: 'mode' }, labels)
    ).toBe('parameter "mode"');
  });

  it('computes the choices of a node in an editor model, labels only', () => {
    const model = new PipelineEditorModel({ path: 'p.pipeline' });
    model.fromString(
      JSON.stringify({
        doc_type: 'pipeline',
        version: '3.0',
        primary_pipeline: 'p',
        pipelines: [{ id: 'p', nodes: [], app_data: {} }]
      })
    );
    const a = model.addNode({
      op: 'execute-python-node',
      filename: 'a.py',
      x: 0,
      y: 0
    });
    const b = model.addNode({
      op: BRANCH_OP,
      filename: '',
      x: 100,
      y: 0,
      label: 'Branch'
    });
    const c = model.addNode({
      op: 'execute-python-node',
      filename: 'c.py',
      x: 200,
      y: 0
    });
    const d = model.addNode({
      op: APPROVAL_OP,
      filename: '',
      x: 200,
      y: 100,
      label: 'Gate'
    });
    model.connect(a, b);
    model.connect(b, c);
    model.connect(b, d);
    const choices = graphChoices(model, b);
    expect(choices.ancestors).toEqual([{ id: a, label: 'a.py' }]);
    expect(choices.children).toEqual([
      { id: c, label: 'c.py' },
      { id: d, label: 'Gate' }
    ]);
    // a control flow node runs no file and starts with no properties
    expect(model.node(b)!.app_data!.component_parameters).toEqual({});
  });

  it('lists the pipeline parameters of type list', () => {
    expect(
      listParameters({
        parameters: [
          { name: 'regions', type: 'list' },
          { name: 'mode', type: 'string' },
          { name: 'bad' }
        ]
      })
    ).toEqual(['regions']);
    expect(listParameters(undefined)).toEqual([]);
  });
});

describe('control flow node forms', () => {
  const valueFrom = {
    oneOf: [
      {
        type: 'object',
        properties: {
          from: { const: 'parameter' },
          parameter: { type: 'string' }
        }
      },
      {
        type: 'object',
        properties: { from: { const: 'result' }, node: { type: 'string' } }
      }
    ]
  };
  const branchSchema = {
    type: 'object',
    properties: {
      label: { type: 'string' },
      component_parameters: {
        type: 'object',
        properties: {
          value_from: valueFrom,
          rules: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                op: { type: 'string' },
                value: {},
                run: { type: 'array', items: { type: 'string' } }
              }
            }
          },
          otherwise: { type: 'array', items: { type: 'string' } }
        }
      },
      mlpipe: {
        type: 'object',
        properties: {
          for_each: {
            type: 'object',
            properties: {
              value_from: valueFrom,
              max_parallel: { type: 'integer' }
            }
          }
        }
      }
    }
  };

  it('gives the control flow properties their widgets even when the schema names none', () => {
    const form = nodeFormSchema(branchSchema, trans);
    const ui = form.uiSchema;
    // objects, oneOfs and lists of objects go through the widget field
    expect(ui.component_parameters.value_from).toEqual({
      'ui:field': WIDGET_FIELD,
      'ui:fieldReplacesAnyOrOneOf': true,
      'ui:options': { mlpipeWidget: 'value-from' }
    });
    expect(ui.component_parameters.rules['ui:options']).toEqual({
      mlpipeWidget: 'branch-rules'
    });
    expect(ui.mlpipe.for_each['ui:options']).toEqual({
      mlpipeWidget: 'for-each'
    });
    // a list of ids is a plain widget
    expect(ui.component_parameters.otherwise).toEqual({
      'ui:widget': 'branch-targets'
    });
  });

  it('offers the fan-out on notebook, Python and R nodes only', () => {
    const onBranch = nodeFormSchema(branchSchema, trans, BRANCH_OP);
    expect(
      onBranch.schema.properties.mlpipe.properties.for_each
    ).toBeUndefined();
    const onScript = nodeFormSchema(branchSchema, trans, 'execute-python-node');
    expect(onScript.schema.properties.mlpipe.properties.for_each).toBeDefined();
  });

  it('renders x-mlpipe-widget objects through the widget field, scalars as before', () => {
    const form = toFormSchema({
      type: 'object',
      properties: {
        arg: {
          type: 'string',
          oneOf: [{ const: 'a' }, { pattern: '^b' }],
          'x-mlpipe-widget': 'operator-arg'
        },
        pick: {
          type: 'object',
          title: 'Pick',
          properties: { a: { type: 'string' } },
          'x-mlpipe-widget': 'my-picker'
        }
      }
    });
    expect(form.uiSchema.arg).toEqual({ 'ui:widget': 'operator-arg' });
    expect(form.uiSchema.pick['ui:options']).toEqual({
      mlpipeWidget: 'my-picker'
    });
    // rjsf sees one opaque value; the widget still has the schema
    expect(form.schema.properties.pick.type).toBe('object');
    expect(form.schema.properties.pick.properties).toBeUndefined();
    expect(form.schema.properties.pick['x-mlpipe-schema'].properties.a).toEqual(
      {
        type: 'string'
      }
    );
  });

  it('keeps a widget the schema names itself', () => {
    const schema = JSON.parse(JSON.stringify(branchSchema));
    schema.properties.component_parameters.properties.otherwise[
      'x-mlpipe-widget'
    ] = 'my-targets';
    const form = nodeFormSchema(schema, trans);
    expect(form.uiSchema.component_parameters.otherwise).toEqual({
      'ui:widget': 'my-targets'
    });
  });

  it('shows the server problems of a rule on that rule, not twice', () => {
    const errors = problemsToErrorSchema([
      { message: 'needs a value', path: 'component_parameters/rules/1/value' },
      { message: 'not linked', path: 'component_parameters/rules/1/run/0' },
      { message: 'no rules', path: 'component_parameters/rules' },
      {
        message: 'not an ancestor',
        path: 'component_parameters/value_from/node'
      },
      { message: 'bad', path: 'component_parameters/value_from' }
    ]);
    const params = errors.component_parameters as any;
    expect(errorsBelow(params.rules, 1)).toEqual([
      'needs a value',
      'not linked'
    ]);
    expect(errorsBelow(params.rules, 0)).toEqual([]);
    // the field's own template shows "bad": the widget shows what is inside
    expect(errorsInside(params.value_from)).toEqual(['not an ancestor']);
    expect(errorsBelow(params.value_from).sort()).toEqual([
      'bad',
      'not an ancestor'
    ]);
  });

  it('types a parameter default that may be a list', () => {
    const form = toFormSchema({
      type: 'object',
      properties: {
        default: { type: ['string', 'number', 'boolean', 'array', 'null'] }
      }
    });
    expect(form.uiSchema.default).toEqual({
      'ui:widget': 'scalar',
      'ui:options': { jsonList: true }
    });
    expect(parseScalarOrList('["eu", "us"]')).toEqual(['eu', 'us']);
    expect(parseScalarOrList('[unfinished')).toBe('[unfinished');
    expect(parseScalarOrList('3')).toBe(3);
  });
});

describe('list parameters of a run', () => {
  const [regions] = pipelineParameters({
    parameters: [{ name: 'regions', type: 'list', default: ['eu'] }]
  });

  it('takes a JSON list, and says so when it is not one', () => {
    expect(regions.type).toBe('list');
    expect(initialInput(regions)).toBe('["eu"]');
    expect(parseParameter(regions, '["eu", "us"]')).toEqual({
      value: ['eu', 'us']
    });
    expect(parseParameter(regions, 'eu, us').error).toBe(
      'Parameter \'regions\' must be a JSON list, e.g. ["a", "b"].'
    );
    // the default itself is no override
    expect(collectOverrides([regions], { regions: '["eu"]' }).params).toEqual(
      {}
    );
    expect(collectOverrides([regions], { regions: '["us"]' }).params).toEqual({
      regions: ['us']
    });
    expect(parametersFromValues({ r: ['a'] })[0]).toEqual({
      name: 'r',
      type: 'list',
      default: ['a']
    });
  });
});

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

function run(tasks: IRunTask[]): IRun {
  return {
    id: 'r1',
    kind: 'local',
    runtime_config: 'local',
    dag_id: 'gated',
    pipeline: 'gated.pipeline',
    state: 'running',
    started: null,
    ended: null,
    params: {},
    message: null,
    links: {},
    tasks
  };
}

describe('control flow task states', () => {
  it('shows a gate waiting for a person as its own, unfinished state', () => {
    expect(statusKind('awaiting_approval')).toBe('awaiting_approval');
    expect(STATUS_LABELS.awaiting_approval).toBe('awaiting approval');
    expect(isTaskActive('awaiting_approval')).toBe(true);
    expect(statusKind('rejected')).toBe('rejected');
    expect(isTaskActive('rejected')).toBe(false);
    const r = run([
      task({ task_id: 'gate', state: 'awaiting_approval' }),
      task({ task_id: 'deploy', state: 'none' }),
      task({ task_id: 'train', state: 'success' })
    ]);
    expect(awaitingApproval(r).map(t => t.task_id)).toEqual(['gate']);
    expect(taskProgress(r.tasks)).toEqual({
      total: 3,
      done: 1,
      running: 0,
      failed: 0
    });
    expect(stateDetails(r.tasks[0])).toEqual([
      ['waits for a decision: approve or reject it']
    ]);
  });

  it('says why a task was skipped by a branch', () => {
    expect(stateDetails(task({ state: 'skipped', reason: 'branch' }))).toEqual([
      ['skipped: the branch before it did not choose it']
    ]);
    expect(stateDetails(task({ state: 'skipped' }))).toEqual([]);
    expect(stateDetails(task({ state: 'rejected' }))).toEqual([
      ['rejected: the nodes after it were skipped']
    ]);
    // a decided gate says who decided, and their comment
    expect(
      stateDetails(
        task({
          state: 'rejected',
          approval: {
            message: 'Deploy?',
            decision: 'reject',
            by: 'ana',
            comment: 'not now'
          }
        })
      )
    ).toEqual([
      ['rejected: the nodes after it were skipped'],
      ['rejected by %1', 'ana'],
      ['comment: %1', 'not now']
    ]);
    expect(
      stateDetails(
        task({
          state: 'rejected',
          approval: { message: 'Deploy?', decision: 'reject', timed_out: true }
        })
      )
    ).toEqual([
      ['rejected: the nodes after it were skipped'],
      ['nobody decided in time']
    ]);
  });

  it('counts the items of a fan-out', () => {
    const fan = task({
      state: 'running',
      items: { total: 5, success: 2, failed: 1, running: 2 }
    });
    expect(itemsProgress(fan)).toBe('3/5');
    expect(itemsProgress(task({ state: 'running' }))).toBeNull();
    expect(stateDetails(fan)).toEqual([
      [
        '%1 of %2 items done (%3 succeeded, %4 failed, %5 running)',
        3,
        5,
        2,
        1,
        2
      ]
    ]);
  });
});

/** A minimal fetch Response. */
function fakeResponse(status: number, body: string, statusText = ''): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText,
    text: () => Promise.resolve(body)
  } as unknown as Response;
}

describe('the decision call', () => {
  let makeRequest: jest.SpyInstance;
  const ref = { runtime_config: 'local', dag_id: 'gated dag', id: 'run/1' };

  beforeEach(() => {
    makeRequest = jest.spyOn(ServerConnection, 'makeRequest');
  });

  afterEach(() => {
    makeRequest.mockRestore();
  });

  it('posts the decision and comment to the task decision route', async () => {
    const after = run([task({ task_id: 'gate', state: 'success' })]);
    makeRequest.mockResolvedValue(fakeResponse(200, JSON.stringify(after)));
    const reply = await RunsClient.decide(
      ref,
      'approve gate',
      'approve',
      '  ship it '
    );
    expect(reply?.tasks[0].state).toBe('success');
    const [url, init] = makeRequest.mock.calls[0];
    expect(url).toMatch(
      /\/mlpipe-lab\/runs\/local\/gated%20dag\/run%2F1\/tasks\/approve%20gate\/decision$/
    );
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body)).toEqual({
      decision: 'approve',
      comment: 'ship it'
    });
  });

  it('sends no comment when none is given, and reads the run when the reply has none', async () => {
    const now = run([task({ task_id: 'gate', state: 'rejected' })]);
    makeRequest
      .mockResolvedValueOnce(fakeResponse(200, '{"decision": "reject"}'))
      .mockResolvedValueOnce(fakeResponse(200, JSON.stringify(now)));
    const after = await sendDecision(
      ref,
      task({ task_id: 'gate', state: 'awaiting_approval' }),
      'reject',
      '   '
    );
    expect(JSON.parse(makeRequest.mock.calls[0][1].body)).toEqual({
      decision: 'reject'
    });
    expect(makeRequest.mock.calls[1][0]).toMatch(
      /runs\/local\/gated%20dag\/run%2F1$/
    );
    expect(after.tasks[0].state).toBe('rejected');
  });

  it('says in words why a decision failed', async () => {
    makeRequest.mockResolvedValue(
      fakeResponse(
        409,
        JSON.stringify({
          error: {
            message: "Task 'gate' is not awaiting approval (it is success)."
          }
        }),
        'Conflict'
      )
    );
    const error = await RunsClient.decide(ref, 'gate', 'approve').catch(e => e);
    expect(error).toBeInstanceOf(MLPipeRequestError);
    expect(decisionFailure(error, 'approve', 'Deploy gate', trans)).toBe(
      'Could not approve "Deploy gate": Task \'gate\' is not awaiting approval (it is success).'
    );
    // no sentence from the server: what the status means
    makeRequest.mockResolvedValue(fakeResponse(404, '', 'Not Found'));
    const gone = await RunsClient.decide(ref, 'gate', 'reject').catch(e => e);
    expect(decisionFailure(gone, 'reject', 'Deploy gate', trans)).toBe(
      'Could not reject "Deploy gate": the server does not know this run or task (it may have been removed)'
    );
    makeRequest.mockRejectedValue(new TypeError('Failed to fetch'));
    const offline = await RunsClient.decide(ref, 'gate', 'reject').catch(
      e => e
    );
    expect(decisionFailure(offline, 'reject', 'Deploy gate', trans)).toMatch(
      /^Could not reject "Deploy gate": The Jupyter server cannot be reached/
    );
  });
});

describe('control flow palette entries', () => {
  it('shows what a branch tests and an approval message under the label', () => {
    const types = createNodeTypes();
    const branch = types.get(BRANCH_OP)!;
    const node = {
      id: 'b',
      op: BRANCH_OP,
      app_data: {
        component_parameters: {
          value_from: { from: 'parameter', parameter: 'mode' },
          rules: [{ op: '==', value: 'fast', run: ['x'] }]
        }
      }
    };
    expect(branch.subtitle!(node)).toBe('on mode · 1 rule');
    expect(branch.subtitle!({ id: 'e', op: BRANCH_OP })).toBe('no rules yet');
    const gate = types.get(APPROVAL_OP)!;
    expect(
      gate.subtitle!({
        id: 'g',
        app_data: { component_parameters: { message: 'Deploy?' } }
      })
    ).toBe('Deploy?');
  });
});
