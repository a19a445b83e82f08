/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Control flow (issue #15, docs/control-flow.md) in the editor and the runs
 * views, against the real server and local run engine (no route mocked):
 * Branch and Approval gate from the palette, linked by mouse, set up in their
 * forms (nodes picked by label), a local run whose gate waits, Approve in the
 * run bar, the chosen path succeeding and the other one skipped by the branch;
 * a second run rejected from the Runs panel.
 */

import {
  expect,
  galata,
  IJupyterLabPageFixture,
  test
} from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import {
  canvas,
  connectNodes,
  editor,
  node,
  pipelineDocument,
  readFile,
  SCREENSHOTS,
  toolbarItem
} from './helpers';

const BRANCH_OP = 'mlpipe:branch';
const APPROVAL_OP = 'mlpipe:approval';

/** A Python script node at a position, after the nodes it lists. */
function scriptNode(id: string, file: string, x: number, y: number): object {
  return {
    id,
    type: 'execution_node',
    op: 'execute-python-node',
    app_data: {
      component_parameters: {
        filename: file,
        dependencies: [],
        env_vars: [],
        outputs: []
      },
      label: '',
      ui_data: { label: file, x_pos: x, y_pos: y }
    },
    inputs: [{ id: 'inPort', app_data: { ui_data: { label: 'Input Port' } } }],
    outputs: [
      { id: 'outPort', app_data: { ui_data: { label: 'Output Port' } } }
    ]
  };
}

const FILES: { [name: string]: string } = {
  // the branch tests this node's result (mlpipe-result.json in its working folder)
  'train.py':
    'import json\nprint("training", flush=True)\n' +
    'json.dump({"metrics": {"accuracy": 0.95}}, open("mlpipe-result.json", "w"))\n',
  'retrain.py': 'print("retraining")\n',
  'deploy.py': 'print("deploying the model", flush=True)\n'
};

// poll quickly, so the gate's state shows at once (galata keeps settings in memory)
test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'mlpipe-lab:runs': { pollInterval: 300, logPollInterval: 300 }
  }
});

const properties = (page: IJupyterLabPageFixture) =>
  editor(page).locator('[data-testid="mlpipe-properties"]');

const runBar = (page: IJupyterLabPageFixture) =>
  editor(page).locator('.jp-MLPipe-RunBar-inner');

const nodeBox = (page: IJupyterLabPageFixture, label: string) =>
  canvas(page).locator(`.jp-MLPipe-Node[data-label="${label}"]`);

/** Drag a palette entry onto the canvas at a point of the page. */
async function dropFromPalette(
  page: IJupyterLabPageFixture,
  op: string,
  at: { x: number; y: number }
): Promise<void> {
  const box = (await canvas(page).boundingBox())!;
  await page.dragAndDrop(
    `.jp-MLPipe-EditorWidget:visible .jp-MLPipe-Palette-item[data-op="${op}"]`,
    '.jp-MLPipe-EditorWidget:visible [data-testid="mlpipe-canvas"]',
    { targetPosition: { x: at.x - box.x, y: at.y - box.y } }
  );
}

async function centre(locator: Locator): Promise<{ x: number; y: number }> {
  const b = (await locator.boundingBox())!;
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

/** Run the current editor's pipeline on `local` with the Run dialog. */
async function runLocal(page: IJupyterLabPageFixture): Promise<void> {
  await toolbarItem(page, 'run').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('select[name="runtime_config"]')).toBeVisible();
  await dialog.locator('select[name="runtime_config"]').selectOption('local');
  // every node runs (no results reused from the first run)
  const cache = dialog.locator('input[name="cache"]');
  if (await cache.count()) {
    await cache.uncheck();
  }
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(dialog).toHaveCount(0);
}

async function screenshots(page: IJupyterLabPageFixture, name: string) {
  await page.screenshot({ path: `${SCREENSHOTS}/${name}-light.png` });
  await page.theme.setDarkTheme();
  await page.screenshot({ path: `${SCREENSHOTS}/${name}-dark.png` });
  await page.theme.setLightTheme();
}

test('branch and approval gate: build, run locally, approve; reject from the Runs panel', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(300_000);
  for (const [file, text] of Object.entries(FILES)) {
    await page.contents.uploadContent(text, 'text', `${tmpPath}/${file}`);
  }
  const file = `${tmpPath}/gated.pipeline`;
  await page.contents.uploadContent(
    pipelineDocument('gated', [
      scriptNode('n-train', 'train.py', 60, 220),
      scriptNode('n-retrain', 'retrain.py', 760, 420),
      scriptNode('n-deploy', 'deploy.py', 1060, 60)
    ]),
    'text',
    file
  );
  await page.filebrowser.openDirectory(tmpPath);
  await page.evaluate(async path => {
    await window.jupyterapp.commands.execute('docmanager:open', { path });
  }, file);
  await expect(canvas(page)).toBeVisible();
  await expect(node(page, 'deploy.py')).toBeVisible();

  // 1. the palette has a "Control flow" group with both node types
  const group = editor(page).locator('.jp-MLPipe-Palette-group', {
    hasText: 'Control flow'
  });
  await expect(
    group.locator(`.jp-MLPipe-Palette-item[data-op="${BRANCH_OP}"]`)
  ).toContainText('Branch');
  await expect(
    group.locator(`.jp-MLPipe-Palette-item[data-op="${APPROVAL_OP}"]`)
  ).toContainText('Approval gate');

  // dropped between the script nodes, linked by mouse like any node
  const train = await centre(node(page, 'train.py'));
  const retrain = await centre(node(page, 'retrain.py'));
  const deploy = await centre(node(page, 'deploy.py'));
  await dropFromPalette(page, BRANCH_OP, {
    x: (train.x + retrain.x) / 2,
    y: train.y
  });
  await expect(node(page, 'Branch')).toBeVisible();
  await dropFromPalette(page, APPROVAL_OP, {
    x: (train.x + retrain.x) / 2 + (deploy.x - retrain.x) / 2 + 40,
    y: deploy.y
  });
  await expect(node(page, 'Approval gate')).toBeVisible();
  await connectNodes(page, 'train.py', 'Branch');
  await connectNodes(page, 'Branch', 'retrain.py');
  await connectNodes(page, 'Branch', 'Approval gate');
  await connectNodes(page, 'Approval gate', 'deploy.py');
  await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(4);

  // 2. the branch's form: the value from train.py's result, picked by label
  await node(page, 'Branch').click();
  const form = properties(page);
  // what the server finds missing is said on the fields (rules are required)
  await expect(
    form.locator('.jp-MLPipe-FieldError', { hasText: 'Rules' }).first()
  ).toBeVisible({ timeout: 30_000 });
  // only notebook, Python and R nodes fan out: no such section here
  await expect(form.locator('.jp-MLPipe-ForEach')).toHaveCount(0);
  const valueFrom = form.locator('.jp-MLPipe-ValueFrom');
  await valueFrom.getByLabel('Value from').selectOption('result');
  await valueFrom
    .getByLabel('Upstream node')
    .selectOption({ label: 'train.py' });
  await valueFrom.getByLabel('Key').fill('metrics.accuracy');
  await form.locator('button[data-action="add-rule"]').click();
  const rule = form.locator('.jp-MLPipe-BranchRule').first();
  await rule.getByLabel('Comparison').selectOption('>=');
  await rule.getByLabel('Value').fill('0.9');
  // the rule runs the gate, not retrain.py (offered by label, never by id)
  await rule.getByRole('checkbox', { name: 'retrain.py' }).uncheck();
  await rule.getByRole('checkbox', { name: 'Approval gate' }).check();
  const otherwise = form.locator('.jp-MLPipe-BranchTargets');
  await otherwise.getByRole('checkbox', { name: 'retrain.py' }).check();
  await expect(node(page, 'Branch')).toContainText('on a result · 1 rule');
  await expect(otherwise).toContainText('Otherwise');
  // the server is satisfied with the branch (its problems go once checked again)
  await expect(node(page, 'Branch').locator('.jp-MLPipe-Badge')).toHaveCount(
    0,
    {
      timeout: 30_000
    }
  );
  await screenshots(page, 'control-flow-branch-form');

  // the gate's form: its message
  await node(page, 'Approval gate').click();
  await form
    .locator('[id$="_component_parameters_message"]')
    .fill('Deploy the model trained by train.py?');
  await expect(node(page, 'Approval gate')).toContainText('Deploy the model');

  // saved as the contract says: ids in the file, the rule's value typed
  await toolbarItem(page, 'save').click();
  await expect(
    page.locator(
      '.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty'
    )
  ).toHaveCount(0);
  const saved = JSON.parse(await readFile(page, file));
  const nodes = saved.pipelines[0].nodes;
  const branch = nodes.find((n: any) => n.op === BRANCH_OP);
  const gate = nodes.find((n: any) => n.op === APPROVAL_OP);
  expect(branch.app_data.component_parameters).toEqual({
    value_from: { from: 'result', node: 'n-train', key: 'metrics.accuracy' },
    rules: [{ op: '>=', value: 0.9, run: [gate.id] }],
    otherwise: ['n-retrain']
  });
  expect(gate.app_data.component_parameters.message).toBe(
    'Deploy the model trained by train.py?'
  );
  // the server has nothing against it
  await expect(editor(page).locator('.jp-MLPipe-Badge-error')).toHaveCount(0, {
    timeout: 30_000
  });

  // 3. a local run: the gate waits, its own state and colour
  await runLocal(page);
  await expect(runBar(page)).toBeVisible();
  await expect(nodeBox(page, 'Approval gate')).toHaveAttribute(
    'data-status',
    'awaiting_approval',
    { timeout: 90_000 }
  );
  await expect(
    node(page, 'Approval gate').locator('.jp-MLPipe-NodeStatus')
  ).toHaveText('awaiting approval');
  // the branch chose the gate: retrain.py is skipped, and the tooltip says why
  await expect(nodeBox(page, 'retrain.py')).toHaveAttribute(
    'data-status',
    'skipped',
    { timeout: 30_000 }
  );
  await expect(
    node(page, 'retrain.py').locator('.jp-MLPipe-NodeStatus')
  ).toHaveAttribute('title', /branch/);
  await expect(nodeBox(page, 'deploy.py')).not.toHaveAttribute(
    'data-status',
    'success'
  );
  const decision = runBar(page).locator('.jp-MLPipe-Decision');
  await expect(decision).toContainText('awaits approval');
  await expect(decision).toContainText('Deploy the model trained by train.py?');
  await screenshots(page, 'control-flow-awaiting');

  // Approve (with a comment): the nodes after the gate run
  await decision
    .getByLabel('Comment on the decision (optional)')
    .fill('looks good');
  await decision.locator('button[data-action="approve"]').click();
  await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
    timeout: 90_000
  });
  await expect(nodeBox(page, 'deploy.py')).toHaveAttribute(
    'data-status',
    'success'
  );
  await expect(nodeBox(page, 'Approval gate')).toHaveAttribute(
    'data-status',
    'success'
  );
  await expect(nodeBox(page, 'retrain.py')).toHaveAttribute(
    'data-status',
    'skipped'
  );
  await expect(runBar(page).locator('.jp-MLPipe-Decision')).toHaveCount(0);
  await screenshots(page, 'control-flow-approved');

  // 4. again, rejected from the Runs panel: the gate ends rejected, deploy.py skipped
  await runLocal(page);
  await expect(nodeBox(page, 'Approval gate')).toHaveAttribute(
    'data-status',
    'awaiting_approval',
    { timeout: 90_000 }
  );
  const runId = await runBar(page).getAttribute('data-run-id');
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('mlpipe-lab:open-runs')
  );
  const panel = page.locator('#mlpipe-lab-runs');
  const item = panel.locator(`.jp-MLPipe-RunItem[data-run-id="${runId}"]`);
  await expect(item).toBeVisible({ timeout: 20_000 });
  if (((await item.getAttribute('class')) ?? '').includes('jp-mod-expanded')) {
    await item.locator('.jp-MLPipe-RunItem-summary').click();
  }
  // collapsed, the runs list alone says this run waits, and at which gate
  await expect(item).not.toHaveClass(/jp-mod-expanded/);
  const rowGate = item.locator('.jp-MLPipe-RunItem-gate');
  await expect(
    rowGate.locator('.jp-MLPipe-RunState[data-status="awaiting_approval"]')
  ).toHaveText('awaits approval', { timeout: 20_000 });
  await expect(rowGate.locator('.jp-MLPipe-RunItem-gateLabel')).toHaveText(
    'Approval gate'
  );
  const noSideways = await panel.evaluate(el =>
    [el, ...el.querySelectorAll('.jp-MLPipe-RunList, .jp-MLPipe-RunItem')].every(
      e => e.scrollWidth <= e.clientWidth + 1
    )
  );
  expect(noSideways).toBe(true);
  await screenshots(page, 'control-flow-runs-collapsed');
  await item.locator('.jp-MLPipe-RunItem-summary').click();
  // once its tasks are read, the run says it waits for someone
  await expect(item.locator('.jp-MLPipe-RunItem-attention')).toHaveText(
    'awaits approval'
  );
  const skippedRow = item.locator('.jp-MLPipe-TaskTable tbody tr', {
    hasText: 'retrain.py'
  });
  await expect(skippedRow).toHaveAttribute('data-status', 'skipped');
  await expect(skippedRow).toHaveAttribute('title', /branch/);
  const panelDecision = item.locator('.jp-MLPipe-Decision');
  await expect(panelDecision).toBeVisible();
  // the narrow panel keeps Approve and Reject inside it
  const fits = await panel.evaluate(el => {
    const right = el.getBoundingClientRect().right;
    return [...el.querySelectorAll('.jp-MLPipe-Decision button')].every(
      b => b.getBoundingClientRect().right <= right + 0.5
    );
  });
  expect(fits).toBe(true);
  await screenshots(page, 'control-flow-runs-panel');
  await panelDecision
    .getByLabel('Comment on the decision (optional)')
    .fill('not now');
  await panelDecision.locator('button[data-action="reject"]').click();
  const gateRow = item.locator('.jp-MLPipe-TaskTable tbody tr', {
    hasText: 'Approval gate'
  });
  await expect(gateRow).toHaveAttribute('data-status', 'rejected', {
    timeout: 60_000
  });
  await expect(gateRow).toHaveAttribute('title', /comment: not now/);
  await expect(
    item.locator('.jp-MLPipe-TaskTable tbody tr', { hasText: 'deploy.py' })
  ).toHaveAttribute('data-status', 'skipped', { timeout: 60_000 });
  await expect(nodeBox(page, 'Approval gate')).toHaveAttribute(
    'data-status',
    'rejected',
    { timeout: 30_000 }
  );
  await expect(item.locator('.jp-MLPipe-Decision')).toHaveCount(0);
  await expect(item.locator('.jp-MLPipe-RunItem-gate')).toHaveCount(0);
});

test('fan-out: a list parameter in the pipeline form, the node runs once per item, items done on its badge', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240_000);
  await page.contents.uploadContent(
    'import os, time\nprint("item", os.environ["MLPIPE_ITEM"], flush=True)\ntime.sleep(1)\n',
    'text',
    `${tmpPath}/each.py`
  );
  const file = `${tmpPath}/fanout.pipeline`;
  await page.contents.uploadContent(
    pipelineDocument('fanout', [scriptNode('n-each', 'each.py', 200, 200)]),
    'text',
    file
  );
  await page.filebrowser.openDirectory(tmpPath);
  await page.evaluate(async path => {
    await window.jupyterapp.commands.execute('docmanager:open', { path });
  }, file);
  await expect(node(page, 'each.py')).toBeVisible();
  const form = properties(page);

  // a pipeline parameter of type list, its default a JSON list
  await form.getByRole('tab', { name: 'Pipeline' }).click();
  const add = form
    .locator('.jp-arrayFieldWrapper', { hasText: 'Typed parameters' })
    .last()
    .getByRole('button', { name: 'Add item' });
  await add.scrollIntoViewIfNeeded();
  await add.click();
  await form
    .locator('[id$="-pipeline_mlpipe_parameters_0_name"]')
    .fill('regions');
  await form
    .locator('[id$="-pipeline_mlpipe_parameters_0_type"]')
    .selectOption('list');
  await form
    .locator('[id$="-pipeline_mlpipe_parameters_0_default"]')
    .fill('["eu", "us", "asia"]');

  // the node's fan-out section: over that parameter, two at a time
  await node(page, 'each.py').click();
  const forEach = form.locator('.jp-MLPipe-ForEach');
  await forEach.scrollIntoViewIfNeeded();
  await forEach.getByLabel('Run once per item of a list').check();
  await expect(forEach.getByLabel('Value from')).toHaveValue('parameter');
  await expect(forEach.getByLabel('Parameter', { exact: true })).toHaveValue(
    'regions'
  );
  await forEach.getByLabel('At most in parallel').fill('2');
  await expect(editor(page).locator('.jp-MLPipe-Badge-error')).toHaveCount(0, {
    timeout: 30_000
  });
  await screenshots(page, 'control-flow-fan-out-form');

  await toolbarItem(page, 'save').click();
  await expect(
    page.locator(
      '.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty'
    )
  ).toHaveCount(0);
  const saved = JSON.parse(await readFile(page, file));
  expect(saved.pipelines[0].app_data.mlpipe.parameters).toEqual([
    { name: 'regions', type: 'list', default: ['eu', 'us', 'asia'] }
  ]);
  expect(saved.pipelines[0].nodes[0].app_data.mlpipe.for_each).toEqual({
    value_from: { from: 'parameter', parameter: 'regions' },
    max_parallel: 2
  });

  // a local run: the node's badge counts its items
  await runLocal(page);
  await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
    timeout: 120_000
  });
  await expect(
    node(page, 'each.py').locator('.jp-MLPipe-NodeStatus')
  ).toHaveText('succeeded 3/3');
  await expect(
    node(page, 'each.py').locator('.jp-MLPipe-NodeStatus')
  ).toHaveAttribute('title', /3 of 3 items done \(3 succeeded, 0 failed/);
  await screenshots(page, 'control-flow-fan-out-run');
});
