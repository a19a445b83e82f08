/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Submit says which DAG it commits and where, and asks before committing a
 * plain-value secret (PASSWORD=hunter2), saying how to make it a Kubernetes
 * secret (issue 18). Against the built-in local runtime (a real bare git
 * repository in the server's data folder).
 */

import { expect, test } from '@jupyterlab/galata';

import {
  canvas,
  editor,
  pipelineDocument,
  SCREENSHOTS,
  toolbarItem
} from './helpers';

test.setTimeout(120_000);

test('submit shows the DAG and its place, and asks before a plain secret', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadContent('print(1)\n', 'text', `${tmpPath}/load.py`);
  const load = {
    id: 'n1',
    type: 'execution_node',
    op: 'execute-python-node',
    app_data: {
      component_parameters: {
        filename: 'load.py',
        runtime_image: 'python:3.11-slim',
        env_vars: [{ env_var: 'PASSWORD', value: 'hunter2' }]
      },
      label: 'load.py',
      ui_data: { label: 'load.py', x_pos: 80, y_pos: 80 }
    },
    inputs: [{ id: 'inPort' }],
    outputs: [{ id: 'outPort' }]
  };
  const file = `${tmpPath}/warehouse_load.pipeline`;
  await page.contents.uploadContent(
    pipelineDocument('warehouse_load', [load]),
    'text',
    file
  );
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(file);
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(1);

  await toolbarItem(page, 'submit').click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('select[name="runtime_config"]').selectOption('local');
  await expect(dialog.locator('[data-field="dag_id"]')).toHaveText(
    'warehouse_load',
    { timeout: 20_000 }
  );
  await expect(dialog.locator('[data-field="submit_path"]')).toHaveText(
    'dags/warehouse_load.py on branch main of the local DAG repository'
  );
  await page.screenshot({ path: `${SCREENSHOTS}/submit-dialog.png` });
  await dialog.getByRole('button', { name: 'Submit', exact: true }).click();

  // the server refused to commit it unasked: the question, and how to do it right
  await expect(dialog).toContainText('Commit plain-value secrets?', {
    timeout: 30_000
  });
  await expect(dialog).toContainText('PASSWORD looks like a secret');
  await expect(dialog).toContainText('kubectl create secret generic');
  await expect(dialog).not.toContainText('hunter2');
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({
      path: `${SCREENSHOTS}/submit-plain-secret-${theme}.png`
    });
  }
  await page.theme.setLightTheme();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);

  // asked again, and this time the user agrees
  await toolbarItem(page, 'submit').click();
  await dialog.locator('select[name="runtime_config"]').selectOption('local');
  await dialog.getByRole('button', { name: 'Submit', exact: true }).click();
  await dialog.getByRole('button', { name: 'Submit Anyway' }).click();
  await expect(dialog).toContainText('Pipeline submitted', { timeout: 60_000 });
  await expect(dialog.locator('.jp-MLPipe-Commit')).toHaveText(/^[0-9a-f]{40}$/);
  await dialog.getByRole('button', { name: 'Close' }).click();
});

test('a DAG id another pipeline file submitted is refused, with the ways out', async ({
  page,
  tmpPath
}) => {
  const script = {
    id: 'n1',
    type: 'execution_node',
    op: 'execute-python-node',
    app_data: {
      component_parameters: {
        filename: 'step.py',
        runtime_image: 'python:3.11-slim'
      },
      label: 'step.py',
      ui_data: { label: 'step.py', x_pos: 80, y_pos: 80 }
    },
    inputs: [{ id: 'inPort' }],
    outputs: [{ id: 'outPort' }]
  };
  // a DAG id unique to this test: the local DAG repository is shared by the run
  const dagId = `etl_${Date.now()}`;
  for (const folder of ['team_a', 'team_b']) {
    await page.contents.uploadContent(
      'print(1)\n',
      'text',
      `${tmpPath}/${folder}/step.py`
    );
    await page.contents.uploadContent(
      pipelineDocument(dagId, [script]),
      'text',
      `${tmpPath}/${folder}/${dagId}.pipeline`
    );
  }
  const dialog = page.locator('.jp-Dialog');
  const submit = async (folder: string) => {
    await page.evaluate(async path => {
      await window.jupyterapp.commands.execute('docmanager:open', { path });
    }, `${tmpPath}/${folder}/${dagId}.pipeline`);
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(1);
    await page.evaluate(() => {
      void window.jupyterapp.commands.execute('mlpipe-lab:submit-pipeline', {
        runtimeConfig: 'local'
      });
    });
  };
  await submit('team_a');
  await expect(dialog).toContainText('Pipeline submitted', { timeout: 60_000 });
  await dialog.getByRole('button', { name: 'Close' }).click();
  // the "Submitting…" toast is gone once the submit is done
  await expect(
    page.locator('.Toastify__toast', { hasText: 'Submitting' })
  ).toHaveCount(0);

  await submit('team_b');
  await expect(dialog).toContainText(`DAG id "${dagId}" is taken`, {
    timeout: 60_000
  });
  await expect(dialog).toContainText(`team_a/${dagId}.pipeline`);
  await page.screenshot({ path: `${SCREENSHOTS}/submit-dag-id-taken.png` });
  await dialog.getByRole('button', { name: 'Set Another DAG Id' }).click();
  // the DAG id field, marked with the server's words
  const field = editor(page).locator('input[id$="-pipeline_mlpipe_dag_id"]');
  await expect(field).toBeFocused();
  await field.fill(`${dagId}_b`);
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('mlpipe-lab:submit-pipeline', {
      runtimeConfig: 'local'
    });
  });
  await expect(dialog).toContainText('Pipeline submitted', { timeout: 60_000 });
  await expect(dialog).toContainText(`${dagId}_b`);
  await dialog.getByRole('button', { name: 'Close' }).click();
});
