/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * A data scientist's first hour (issue 18): problems are sentences that say
 * what is expected, warnings are orange and errors red, a new parameter says
 * why it is red, and validation follows the files beside the pipeline.
 */

import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import {
  api,
  canvas,
  editor,
  node,
  pipelineDocument,
  SCREENSHOTS
} from './helpers';

test.setTimeout(120_000);

function pythonNode(id: string, file: string, extra: object = {}): object {
  return {
    id,
    type: 'execution_node',
    op: 'execute-python-node',
    app_data: {
      component_parameters: {
        filename: file,
        runtime_image: 'python:3.11-slim',
        ...extra
      },
      label: file,
      ui_data: { label: file, x_pos: 80, y_pos: 80 }
    },
    inputs: [{ id: 'inPort' }],
    outputs: [{ id: 'outPort' }]
  };
}

/** The computed text colour of an element. */
async function color(locator: Locator): Promise<string> {
  return locator.evaluate(el => getComputedStyle(el).color);
}

/** A CSS variable of the page, as a computed colour. */
async function themeColor(locator: Locator, variable: string): Promise<string> {
  return locator.evaluate((el, variable) => {
    const probe = document.createElement('span');
    probe.style.color = `var(${variable})`;
    el.appendChild(probe);
    const value = getComputedStyle(probe).color;
    probe.remove();
    return value;
  }, variable);
}

test('problems say what is expected: errors red, warnings orange, a new parameter says why it is red', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadContent('print(1)\n', 'text', `${tmpPath}/train.py`);
  const train = {
    ...pythonNode('n1', 'train.py', {
      env_vars: [{ env_var: 'DB_PASSWORD', value: 'hunter2' }]
    })
  } as any;
  train.app_data.mlpipe = { retries: -1 };
  const path = `${tmpPath}/iris.pipeline`;
  await page.contents.uploadContent(
    pipelineDocument('iris', [train]),
    'text',
    path
  );
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(path);
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(1);

  await node(page, 'train.py').click();
  const properties = editor(page).locator('[data-testid="mlpipe-properties"]');
  // the schema's minimum, as a sentence naming the field
  const retries = properties.locator('.jp-MLPipe-FieldError', {
    hasText: 'Retries must be 0 or more (it is -1).'
  });
  await expect(retries).toBeVisible({ timeout: 15_000 });
  await expect(properties).not.toContainText('less than the minimum');
  // a plain-value secret is a warning: orange, not red
  const secret = properties.locator('.jp-MLPipe-FieldWarning').first();
  await expect(secret).toContainText('Warning:');
  expect(await color(secret)).toBe(
    await themeColor(secret, '--jp-warn-color0')
  );
  expect(await color(retries)).toBe(
    await themeColor(retries, '--jp-error-color1')
  );
  expect(await color(secret)).not.toBe(await color(retries));
  await retries.scrollIntoViewIfNeeded();
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({
      path: `${SCREENSHOTS}/first-hour-node-problems-${theme}.png`
    });
  }
  await page.theme.setLightTheme();

  // a new, empty pipeline parameter: its name field says what it needs
  await properties.getByRole('tab', { name: 'Pipeline' }).click();
  const add = properties
    .locator('.jp-arrayFieldWrapper', { hasText: 'Typed parameters' })
    .last()
    .getByRole('button', { name: 'Add item' });
  await add.scrollIntoViewIfNeeded();
  await add.click();
  const why = properties.locator('.jp-MLPipe-FieldError', {
    hasText: 'Name is required: enter a value'
  });
  await expect(why).toBeVisible({ timeout: 15_000 });
  await expect(why).toContainText('Python identifier');
  await why.scrollIntoViewIfNeeded();
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({
      path: `${SCREENSHOTS}/first-hour-new-parameter-${theme}.png`
    });
  }
  await page.theme.setLightTheme();
  // a name with a space: which characters a name may have
  const name = properties.locator('[id$="-pipeline_mlpipe_parameters_0_name"]');
  await name.fill('learning rate');
  await expect(
    properties.locator('.jp-MLPipe-FieldError', {
      hasText: "Name: 'learning rate' is not allowed here; use a Python-style name"
    })
  ).toBeVisible({ timeout: 15_000 });
  await expect(properties).not.toContainText('characters that are not allowed');
});

test('validation follows the files: a node file deleted or renamed back is seen without an edit', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadContent('print(1)\n', 'text', `${tmpPath}/prepare.py`);
  const path = `${tmpPath}/follow.pipeline`;
  await page.contents.uploadContent(
    pipelineDocument('follow', [pythonNode('n1', 'prepare.py')]),
    'text',
    path
  );
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(path);
  const prepare = node(page, 'prepare.py');
  await expect(prepare).toBeVisible();
  const badge = prepare.locator('.jp-MLPipe-Badge-error');
  // wait for the first validation: a valid node
  await page.waitForTimeout(1500);
  await expect(badge).toHaveCount(0);

  // the file browser's delete and rename go through the same contents manager
  await page.evaluate(async file => {
    await window.jupyterapp.serviceManager.contents.rename(
      file,
      file.replace(/prepare\.py$/, 'prepare_old.py')
    );
  }, `${tmpPath}/prepare.py`);
  await expect(badge).toBeVisible({ timeout: 15_000 });
  await badge.hover();
  await expect(prepare.locator('.jp-MLPipe-Tooltip')).toContainText(
    'does not exist'
  );
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({
      path: `${SCREENSHOTS}/first-hour-file-gone-${theme}.png`
    });
  }
  await page.theme.setLightTheme();
  await page.evaluate(async file => {
    await window.jupyterapp.serviceManager.contents.rename(
      file.replace(/prepare\.py$/, 'prepare_old.py'),
      file
    );
  }, `${tmpPath}/prepare.py`);
  await expect(badge).toHaveCount(0, { timeout: 15_000 });
});

test('"Add Comment" opens the new comment for typing', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadContent('print(1)\n', 'text', `${tmpPath}/fit.py`);
  const path = `${tmpPath}/notes.pipeline`;
  await page.contents.uploadContent(
    pipelineDocument('notes', [pythonNode('n1', 'fit.py')]),
    'text',
    path
  );
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(path);
  await node(page, 'fit.py').click();
  await node(page, 'fit.py').click({ button: 'right' });
  await page
    .locator('.lm-Menu')
    .last()
    .getByText('Add Comment', { exact: true })
    .click();
  const textarea = canvas(page).locator('.jp-MLPipe-Comment-editor');
  await expect(textarea).toBeVisible();
  await expect(textarea).toBeFocused();
  await page.keyboard.type('Fits the model on the prepared data');
  await page.keyboard.press('Escape');
  await expect(canvas(page).locator('.jp-MLPipe-Comment')).toHaveText(
    'Fits the model on the prepared data'
  );
});

test('the runtime configuration form says on save what a submit would lack', async ({
  page
}) => {
  const stamp = Date.now().toString(36);
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('mlpipe-lab:open-runtime-configs')
  );
  const panel = page.locator('#mlpipe-lab-runtime-configs');
  await panel.locator('button[data-action="add"]').click();
  const dialog = page.locator('.jp-Dialog');
  const form = dialog.locator('.jp-MLPipe-EntryForm');
  await form
    .locator('#mlpipe-runtime-configs_display_name')
    .fill(`Team Airflow ${stamp}`);
  await form
    .locator('#mlpipe-runtime-configs_airflow_api_endpoint')
    .fill('https://airflow.example.com');
  await form
    .locator('#mlpipe-runtime-configs_dag_repo_url')
    .fill('https://git.example.com/team/dags.git');
  // the form fits its dialog: no sideways scrolling, no field cut off
  const body = dialog.locator('.jp-Dialog-body');
  const fit = await body.evaluate(el => {
    const box = el.getBoundingClientRect();
    const fields = [...el.querySelectorAll('input, select, textarea')];
    return {
      scrollbar: getComputedStyle(el).overflowX !== 'hidden' && el.scrollWidth > el.clientWidth + 1,
      cut: fields.filter(f => f.getBoundingClientRect().right > box.right + 0.5).length
    };
  });
  expect(fit).toEqual({ scrollbar: false, cut: 0 });
  await dialog.getByRole('button', { name: 'Save' }).click();
  // no object storage: asked before saving, in words
  const ask = page.locator('.jp-Dialog', {
    hasText: 'Submits with this configuration'
  });
  await expect(ask).toContainText('No object storage (bucket)');
  await expect(ask).toContainText('notebook or script nodes cannot be submitted');
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({
      path: `${SCREENSHOTS}/first-hour-config-lacks-${theme}.png`
    });
  }
  await page.theme.setLightTheme();
  await ask.getByRole('button', { name: 'Back to the form' }).click();
  // back in the form, with what was typed and the problem on its section
  await expect(form.locator('[role="alert"]')).toContainText(
    'No object storage'
  );
  await expect(
    form.locator('#mlpipe-runtime-configs_airflow_api_endpoint')
  ).toHaveValue('https://airflow.example.com');
  await form
    .locator('#mlpipe-runtime-configs_object_storage_bucket')
    .fill('team-pipelines');
  await form
    .locator('#mlpipe-runtime-configs_object_storage_pod_credentials_secret')
    .fill('team-s3');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  const item = panel.locator('.jp-MLPipe-Catalog-item', {
    hasText: `Team Airflow ${stamp}`
  });
  await expect(item).toBeVisible();
  const name = (await item.getAttribute('data-name'))!;
  await api(page, `catalogs/runtime-configs/${name}`, { method: 'DELETE' });
});

test('the run bar folds to one row and its log is resizable', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadContent(
    'print("fitting", flush=True)\n',
    'text',
    `${tmpPath}/fit.py`
  );
  const path = `${tmpPath}/fold.pipeline`;
  await page.contents.uploadContent(
    pipelineDocument('fold', [pythonNode('n1', 'fit.py')]),
    'text',
    path
  );
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(path);
  await expect(node(page, 'fit.py')).toBeVisible();
  await editor(page)
    .locator('.jp-Toolbar-item[data-jp-item-name="run"]')
    .click();
  const dialog = page.locator('.jp-Dialog');
  const select = dialog.locator('select[name="runtime_config"]');
  await select.selectOption('local');
  // a dropdown that looks like one, naming each configuration once
  expect(
    await select.evaluate(el => getComputedStyle(el).backgroundImage)
  ).toContain('linear-gradient');
  await expect(select.locator('option[value="local"]')).toHaveText(
    'Local (embedded) — this machine'
  );
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();
  const bar = editor(page).locator('.jp-MLPipe-RunBar-inner');
  await expect(bar).toHaveAttribute('data-status', 'success', {
    timeout: 60_000
  });
  await node(page, 'fit.py').click();
  const log = bar.locator('.jp-MLPipe-Log-text');
  await expect(log).toContainText('fitting', { timeout: 20_000 });
  expect(await log.evaluate(el => getComputedStyle(el).resize)).toBe(
    'vertical'
  );
  const flow = canvas(page);
  const open = (await flow.boundingBox())!.height;
  await bar.getByRole('button', { name: 'Collapse the run bar' }).click();
  await expect(log).toHaveCount(0);
  // the canvas gets the height back
  await expect
    .poll(async () => (await flow.boundingBox())!.height)
    .toBeGreaterThan(open + 100);
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({
      path: `${SCREENSHOTS}/first-hour-run-bar-folded-${theme}.png`
    });
  }
  await page.theme.setLightTheme();
  await bar.getByRole('button', { name: 'Expand the run bar' }).click();
  await expect(log).toContainText('fitting');
});
