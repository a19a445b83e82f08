/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Runs from the editor and the Runs panel, against the real server and the
 * real local run engine (no route is mocked): node states as they change,
 * node logs, the failure report naming the node, cancel, the Runs panel.
 */

import {
  expect,
  galata,
  IJupyterLabPageFixture,
  test
} from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import {
  api,
  canvas,
  editor,
  node,
  pipelineDocument,
  readFile,
  SCREENSHOTS,
  toolbarItem
} from './helpers';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hello_world');
const IMAGE = 'python:3.11-slim';

/** A pipeline of script nodes, each after the ones it lists. */
function pipeline(
  name: string,
  nodes: { id: string; file: string; after?: string[] }[],
  parameters: object[] = []
): string {
  return pipelineDocument(
    name,
    nodes.map((n, i) => ({
      id: n.id,
      type: 'execution_node',
      op: 'execute-python-node',
      app_data: {
        component_parameters: {
          filename: n.file,
          runtime_image: IMAGE,
          dependencies: [],
          env_vars: [],
          outputs: [],
          // a node gets the parameters it selects
          ...(parameters.length
            ? { pipeline_parameters: parameters.map((p: any) => p.name) }
            : {})
        },
        label: '',
        ui_data: { label: n.file, x_pos: 80 + i * 280, y_pos: 160 }
      },
      inputs: [
        {
          id: 'inPort',
          app_data: { ui_data: { label: 'Input Port' } },
          links: (n.after ?? []).map(up => ({
            id: `${up}-${n.id}`,
            node_id_ref: up,
            port_id_ref: 'outPort'
          }))
        }
      ],
      outputs: [
        { id: 'outPort', app_data: { ui_data: { label: 'Output Port' } } }
      ]
    })),
    { parameters }
  );
}

/** Upload files and a pipeline, open it in the editor. */
async function openPipeline(
  page: IJupyterLabPageFixture,
  folder: string,
  name: string,
  content: string,
  files: { [name: string]: string }
): Promise<string> {
  for (const [file, text] of Object.entries(files)) {
    await page.contents.uploadContent(text, 'text', `${folder}/${file}`);
  }
  const file = `${folder}/${name}`;
  await page.contents.uploadContent(content, 'text', file);
  await page.filebrowser.openDirectory(folder);
  await page.filebrowser.open(file);
  await expect(canvas(page)).toBeVisible();
  return file;
}

/** Record every status each node shows, in order (on `window.__mlpipeStatuses`). */
async function recordStatuses(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => {
    const seen: { [label: string]: string[] } = {};
    (window as any).__mlpipeStatuses = seen;
    const note = (el: Element) => {
      const label = el.getAttribute('data-label');
      const status = el.getAttribute('data-status');
      if (label && status) {
        const list = (seen[label] = seen[label] ?? []);
        if (list[list.length - 1] !== status) {
          list.push(status);
        }
      }
    };
    new MutationObserver(records => {
      for (const record of records) {
        const target = record.target as Element;
        if (target.classList?.contains('jp-MLPipe-Node')) {
          note(target);
        }
        target.querySelectorAll?.('.jp-MLPipe-Node').forEach(note);
      }
    }).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-status']
    });
  });
}

async function statusesSeen(
  page: IJupyterLabPageFixture,
  label: string
): Promise<string[]> {
  return page.evaluate(l => (window as any).__mlpipeStatuses[l] ?? [], label);
}

/** Run the current editor's pipeline with the dialog, on `local`. */
async function runLocal(page: IJupyterLabPageFixture): Promise<void> {
  await toolbarItem(page, 'run').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('select[name="runtime_config"]')).toBeVisible();
  await dialog.locator('select[name="runtime_config"]').selectOption('local');
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(dialog).toHaveCount(0);
}

const runBar = (page: IJupyterLabPageFixture) =>
  editor(page).locator('.jp-MLPipe-RunBar-inner');

const nodeStatus = (page: IJupyterLabPageFixture, label: string) =>
  canvas(page).locator(`.jp-MLPipe-Node[data-label="${label}"]`);

// poll quickly, so short node states are seen (galata keeps settings in memory)
test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'mlpipe-lab:runs': { pollInterval: 300, logPollInterval: 300 }
  }
});

test.describe('runs', () => {
  test('runs the example on local: nodes go running → success, logs, Runs panel', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(180_000);
    // the hello-world example; its scripts take a moment so "running" shows
    const example = fs.readFileSync(
      path.join(EXAMPLE, 'hello_world.pipeline'),
      'utf-8'
    );
    await openPipeline(page, tmpPath, 'hello_world.pipeline', example, {
      'hello.py':
        'import time\nprint("hello from the hello node", flush=True)\ntime.sleep(3)\nprint("hello done", flush=True)\n',
      'world.py':
        'import time\nprint("world from the world node", flush=True)\ntime.sleep(2)\n'
    });
    await expect(toolbarItem(page, 'run')).toContainText('Run');
    await recordStatuses(page);

    await runLocal(page);
    await expect(runBar(page)).toBeVisible();
    await expect(nodeStatus(page, 'hello.py')).toHaveAttribute(
      'data-status',
      'running',
      { timeout: 30_000 }
    );
    await expect(
      node(page, 'hello.py').locator('.jp-MLPipe-NodeStatus')
    ).toHaveText('running');
    await expect(runBar(page).locator('.jp-MLPipe-RunBar-cancel')).toBeVisible();

    // the node's live log, by clicking the node
    await node(page, 'hello.py').click();
    const log = runBar(page).locator('.jp-MLPipe-Log-text');
    await expect(log).toContainText('hello from the hello node', {
      timeout: 20_000
    });
    await page.screenshot({ path: `${SCREENSHOTS}/runs-editor-running.png` });

    await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
      timeout: 60_000
    });
    await expect(nodeStatus(page, 'hello.py')).toHaveAttribute(
      'data-status',
      'success'
    );
    await expect(nodeStatus(page, 'world.py')).toHaveAttribute(
      'data-status',
      'success'
    );
    await expect(log).toContainText('hello done');
    await expect(runBar(page).locator('.jp-MLPipe-Log')).toHaveAttribute(
      'data-following',
      'false'
    );
    // each node was seen running before it succeeded
    for (const label of ['hello.py', 'world.py']) {
      const seen = await statusesSeen(page, label);
      expect(seen).toContain('running');
      expect(seen.indexOf('running')).toBeLessThan(seen.indexOf('success'));
      expect(seen[seen.length - 1]).toBe('success');
    }
    await expect(runBar(page)).toContainText('2 of 2 nodes done');
    await expect(runBar(page).locator('.jp-MLPipe-RunBar-cancel')).toHaveCount(0);
    const runId = await runBar(page).getAttribute('data-run-id');
    expect(runId).toBeTruthy();

    await page.screenshot({ path: `${SCREENSHOTS}/runs-editor-light.png` });
    await page.theme.setDarkTheme();
    await expect(nodeStatus(page, 'hello.py')).toHaveAttribute(
      'data-status',
      'success'
    );
    await page.screenshot({ path: `${SCREENSHOTS}/runs-editor-dark.png` });
    await page.theme.setLightTheme();

    // the Runs panel lists the run; its tasks; a task's log in the main area
    await page.evaluate(() =>
      window.jupyterapp.commands.execute('mlpipe-lab:open-runs')
    );
    const panel = page.locator('#mlpipe-lab-runs');
    await expect(panel).toBeVisible();
    const item = panel.locator(`.jp-MLPipe-RunItem[data-run-id="${runId}"]`);
    await expect(item).toBeVisible({ timeout: 20_000 });
    await expect(item).toHaveAttribute('data-status', 'success');
    await expect(item.locator('.jp-MLPipe-RunItem-dag')).toHaveText('hello_world');
    if ((await item.getAttribute('class'))?.includes('jp-mod-expanded') !== true) {
      await item.locator('.jp-MLPipe-RunItem-summary').click();
    }
    const rows = item.locator('.jp-MLPipe-TaskTable tbody tr');
    await expect(rows).toHaveCount(2);
    await expect(rows.first().locator('.jp-MLPipe-RunState')).toHaveText(
      'succeeded'
    );
    // no sideways scroll in the panel: every task button is inside it (issue 18)
    const fits = await panel.evaluate(el => {
      const right = el.getBoundingClientRect().right;
      return [...el.querySelectorAll('button')].every(
        b => b.getBoundingClientRect().right <= right + 0.5
      );
    });
    expect(fits).toBe(true);
    await page.screenshot({ path: `${SCREENSHOTS}/runs-panel-light.png` });
    await page.theme.setDarkTheme();
    await expect(item).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/runs-panel-dark.png` });
    await page.theme.setLightTheme();

    const worldRow = item.locator('.jp-MLPipe-TaskTable tbody tr', {
      hasText: 'world.py'
    });
    await worldRow.locator('button[data-action="log"]').click();
    const viewer = page.locator('.jp-MLPipe-LogViewer:visible');
    await expect(viewer.locator('.jp-MLPipe-Log-text')).toContainText(
      'world from the world node',
      { timeout: 20_000 }
    );
    await expect(
      page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
        hasText: 'Log: world.py'
      })
    ).toBeVisible();
    // the log opens beside the editor: the canvas keeps its height (issue 18)
    const canvasBox = await canvas(page).boundingBox();
    expect(canvasBox?.height ?? 0).toBeGreaterThan(200);

    // the server agrees
    const { status, body } = await api(page, `runs?runtime_config=local&limit=5`);
    expect(status).toBe(200);
    const listed = body.runs.find((r: any) => r.id === runId);
    expect(listed.state).toBe('success');
  });

  test('a failing node: the failure report names it, its log shows the error', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(120_000);
    await openPipeline(
      page,
      tmpPath,
      'broken.pipeline',
      pipeline('broken', [
        { id: 'n-prepare', file: 'prepare.py' },
        { id: 'n-fail', file: 'explode.py', after: ['n-prepare'] },
        { id: 'n-after', file: 'report.py', after: ['n-fail'] }
      ]),
      {
        'prepare.py': 'print("preparing", flush=True)\n',
        'explode.py':
          'print("about to fail", flush=True)\nraise ValueError("the input table is empty")\n',
        'report.py': 'print("never printed")\n'
      }
    );
    await runLocal(page);
    await expect(runBar(page)).toHaveAttribute('data-status', 'failed', {
      timeout: 60_000
    });
    const failure = runBar(page).locator('.jp-MLPipe-RunBar-failure');
    await expect(failure).toContainText('explode.py');
    await expect(nodeStatus(page, 'explode.py')).toHaveAttribute(
      'data-status',
      'failed'
    );
    await expect(nodeStatus(page, 'prepare.py')).toHaveAttribute(
      'data-status',
      'success'
    );
    await expect(nodeStatus(page, 'report.py')).toHaveAttribute(
      'data-status',
      'upstream_failed'
    );
    // the failed node's log opens by itself, with the traceback
    const logView = runBar(page).locator('.jp-MLPipe-Log');
    await expect(logView).toHaveAttribute('data-task-id', /explode/);
    await expect(logView.locator('.jp-MLPipe-Log-text')).toContainText(
      'the input table is empty',
      { timeout: 20_000 }
    );
    await page.screenshot({ path: `${SCREENSHOTS}/runs-editor-failed.png` });
  });

  test('cancels a long run', async ({ page, tmpPath }) => {
    test.setTimeout(120_000);
    await openPipeline(
      page,
      tmpPath,
      'long.pipeline',
      pipeline('long_running', [
        { id: 'n-sleep', file: 'sleepy.py' },
        { id: 'n-next', file: 'next.py', after: ['n-sleep'] }
      ]),
      {
        'sleepy.py':
          'import time\nprint("sleeping", flush=True)\ntime.sleep(300)\n',
        'next.py': 'print("next")\n'
      }
    );
    await runLocal(page);
    await expect(nodeStatus(page, 'sleepy.py')).toHaveAttribute(
      'data-status',
      'running',
      { timeout: 30_000 }
    );
    const started = Date.now();
    await runBar(page).locator('.jp-MLPipe-RunBar-cancel').click();
    await expect(runBar(page)).toHaveAttribute('data-status', 'cancelled', {
      timeout: 30_000
    });
    expect(Date.now() - started).toBeLessThan(30_000);
    await expect(runBar(page)).toContainText('The run was cancelled.');
    await expect(nodeStatus(page, 'sleepy.py')).not.toHaveAttribute(
      'data-status',
      'running'
    );
    await expect(nodeStatus(page, 'next.py')).not.toHaveAttribute(
      'data-status',
      /running|success/
    );
    const runId = await runBar(page).getAttribute('data-run-id');
    const { body } = await api(page, `runs/local/long_running/${runId}`);
    expect(body.state).toBe('cancelled');
    // the Run button is back
    await expect(toolbarItem(page, 'run').locator('button')).toBeEnabled();
  });

  test('parameters: typed overrides in the Run dialog, and Run again from the Runs panel', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(150_000);
    await openPipeline(
      page,
      tmpPath,
      'greet.pipeline',
      pipeline(
        'greet',
        [{ id: 'n-greet', file: 'greet.py' }],
        [
          { name: 'greeting', type: 'string', default: 'hi' },
          { name: 'repeat', type: 'integer', default: 1, minimum: 1 }
        ]
      ),
      {
        'greet.py':
          'import os\nfor _ in range(int(os.environ["repeat"])):\n    print("greeting=" + os.environ["greeting"], flush=True)\n'
      }
    );
    await toolbarItem(page, 'run').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('input[name="greeting"]')).toHaveValue('hi');
    await expect(dialog.locator('input[name="repeat"]')).toHaveValue('1');
    await dialog.locator('input[name="greeting"]').fill('hello params');
    await dialog.locator('input[name="repeat"]').fill('0');
    await page.screenshot({ path: `${SCREENSHOTS}/runs-dialog.png` });
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    // refused before the round trip, naming the parameter; what was typed is kept
    await expect(dialog.locator('[data-param="repeat"] [role="alert"]')).toHaveText(
      "Parameter 'repeat' must be at least 1."
    );
    await expect(dialog.locator('input[name="greeting"]')).toHaveValue(
      'hello params'
    );
    await dialog.locator('input[name="repeat"]').fill('2');
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(dialog).toHaveCount(0);
    await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
      timeout: 60_000
    });
    await node(page, 'greet.py').click();
    await expect(runBar(page).locator('.jp-MLPipe-Log-text')).toContainText(
      'greeting=hello params\ngreeting=hello params'
    );
    const first = await runBar(page).getAttribute('data-run-id');
    const { body: firstRun } = await api(page, `runs/local/greet/${first}`);
    expect(firstRun.params).toEqual({ greeting: 'hello params', repeat: 2 });

    // the Runs panel: the run with its parameters; run it again with another greeting
    await runBar(page).getByRole('button', { name: 'Show in Runs' }).click();
    const panel = page.locator('#mlpipe-lab-runs');
    const item = panel.locator(`.jp-MLPipe-RunItem[data-run-id="${first}"]`);
    await expect(item.locator('.jp-MLPipe-RunItem-params')).toContainText(
      'greeting="hello params"'
    );
    await item.locator('button[data-action="rerun"]').click();
    await expect(dialog.locator('input[name="greeting"]')).toHaveValue(
      'hello params'
    );
    await dialog.locator('input[name="greeting"]').fill('again');
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(dialog).toHaveCount(0);
    // the new run is listed, and also shown in the open editor
    const greetRuns = panel.locator('.jp-MLPipe-RunItem[data-dag-id="greet"]');
    await expect(greetRuns).toHaveCount(2, { timeout: 20_000 });
    const secondId = await panel
      .locator(
        `.jp-MLPipe-RunItem[data-dag-id="greet"]:not([data-run-id="${first}"])`
      )
      .getAttribute('data-run-id');
    await expect(runBar(page)).toHaveAttribute('data-run-id', secondId!);
    await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
      timeout: 60_000
    });
    const { body: secondRun } = await api(page, `runs/local/greet/${secondId}`);
    expect(secondRun.params).toEqual({ greeting: 'again', repeat: 2 });
  });

  test('Airflow unreachable: plain messages in the Runs panel and the Run dialog, nothing lost', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(120_000);
    const name = `down-airflow-${Date.now().toString(36)}`;
    // a real Airflow configuration whose API nobody answers (port 9, loopback)
    const created = await api(page, 'catalogs/runtime-configs', {
      method: 'POST',
      body: {
        name,
        display_name: 'Airflow that is down',
        type: 'airflow',
        airflow: { api_endpoint: 'http://127.0.0.1:9' },
        dag_repo: { url: 'https://git.example.invalid/team/dags.git' }
      }
    });
    expect(created.status, JSON.stringify(created.body)).toBeLessThan(300);
    try {
      await page.evaluate(() =>
        window.jupyterapp.commands.execute('mlpipe-lab:open-runs')
      );
      const panel = page.locator('#mlpipe-lab-runs');
      await panel.locator('select[name="runtime_config"]').selectOption(name);
      await expect(panel).toContainText('Airflow runs are listed per DAG');
      await panel.locator('input[name="dag_id"]').fill('hello_world');
      await panel.locator('input[name="dag_id"]').press('Enter');
      const error = panel.locator('.jp-MLPipe-Runs-error');
      await expect(error).toBeVisible({ timeout: 30_000 });
      await expect(error).toContainText(/airflow/i);
      await expect(error).not.toContainText('Traceback');
      await page.screenshot({ path: `${SCREENSHOTS}/runs-panel-airflow-down.png` });

      const example = fs.readFileSync(
        path.join(EXAMPLE, 'hello_world.pipeline'),
        'utf-8'
      );
      await page.sidebar.openTab('filebrowser');
      await openPipeline(page, tmpPath, 'hello_world.pipeline', example, {
        'hello.py': 'print("hello")\n',
        'world.py': 'print("world")\n'
      });
      await toolbarItem(page, 'run').click();
      const dialog = page.locator('.jp-Dialog');
      await dialog.locator('select[name="runtime_config"]').selectOption(name);
      const publish = dialog.locator('input[name="publish"]');
      await expect(publish).toBeChecked();
      await publish.uncheck();
      await dialog.getByRole('button', { name: 'Run', exact: true }).click();
      const report = page.locator('.jp-Dialog', { hasText: 'The run did not start' });
      await expect(report).toBeVisible({ timeout: 30_000 });
      await expect(report).toContainText(/airflow/i);
      await expect(report).not.toContainText('Traceback');
      await page.screenshot({ path: `${SCREENSHOTS}/runs-airflow-down.png` });
      await report.getByRole('button', { name: 'Close' }).click();
      // nothing lost: the pipeline is as it was, and no run bar appeared
      await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
      await expect(runBar(page)).toHaveCount(0);
    } finally {
      await api(page, `catalogs/runtime-configs/${name}`, { method: 'DELETE' });
    }
  });

  test('step caching and partial runs: unchanged nodes show cached, Run This Node from the context menu', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(180_000);
    const example = fs.readFileSync(
      path.join(EXAMPLE, 'hello_world.pipeline'),
      'utf-8'
    );
    await openPipeline(page, tmpPath, 'hello_world.pipeline', example, {
      'hello.py': `print("hello ${tmpPath}")\n`,
      'world.py': `print("world ${tmpPath}")\n`
    });
    await runLocal(page);
    await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
      timeout: 60_000
    });
    const first = await runBar(page).getAttribute('data-run-id');

    // nothing changed: both nodes reuse the first run's results
    await runLocal(page);
    await expect(runBar(page)).not.toHaveAttribute('data-run-id', first!, {
      timeout: 30_000
    });
    await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
      timeout: 60_000
    });
    for (const label of ['hello.py', 'world.py']) {
      await expect(nodeStatus(page, label)).toHaveAttribute(
        'data-status',
        'cached'
      );
    }
    await expect(
      node(page, 'world.py').locator('.jp-MLPipe-NodeStatus')
    ).toHaveText('cached');
    const second = await runBar(page).getAttribute('data-run-id');

    // the context menu of a node: run only it (it runs; hello's results are reused)
    await node(page, 'world.py').click({ button: 'right' });
    await page.locator('.lm-Menu-item', { hasText: 'Run This Node' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Run part of');
    await expect(dialog.locator('input[name="cache"]')).toBeChecked();
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(runBar(page)).not.toHaveAttribute('data-run-id', second!, {
      timeout: 30_000
    });
    await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
      timeout: 60_000
    });
    const runId = await runBar(page).getAttribute('data-run-id');
    const { body } = await api(page, `runs/local/hello_world/${runId}`);
    expect(
      Object.fromEntries(body.tasks.map((t: any) => [t.task_id, t.state]))
    ).toEqual({ hello: 'cached', world: 'success' });
  });

  test('runs the pipeline as shown: unsaved changes are run and stay unsaved', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(120_000);
    const example = fs.readFileSync(
      path.join(EXAMPLE, 'hello_world.pipeline'),
      'utf-8'
    );
    const file = await openPipeline(page, tmpPath, 'hello_world.pipeline', example, {
      'hello.py': 'print("hello")\n',
      'world.py': 'print("world")\n'
    });
    // an edit that is not saved: world.py is deleted from the canvas
    await node(page, 'world.py').click();
    await page.keyboard.press('Delete');
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(1);
    const dirty = page.locator(
      '.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty'
    );
    await expect(dirty).toHaveCount(1);

    await toolbarItem(page, 'run').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('unsaved changes included');
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    await expect(runBar(page)).toHaveAttribute('data-status', 'success', {
      timeout: 60_000
    });
    await expect(runBar(page)).toContainText('1 of 1 nodes done');
    const runId = await runBar(page).getAttribute('data-run-id');
    const { body } = await api(page, `runs/local/hello_world/${runId}`);
    expect(body.tasks.map((t: any) => t.label)).toEqual(['hello.py']);
    // still unsaved; the file on disk still has both nodes
    await expect(dirty).toHaveCount(1);
    const onDisk = JSON.parse(await readFile(page, file));
    expect(onDisk.pipelines[0].nodes).toHaveLength(2);
  });
});
