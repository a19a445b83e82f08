/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * File browser actions on notebooks and scripts, and submitting a pipeline
 * with the built-in local runtime.
 */

import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import { canvas, node, SCREENSHOTS, toolbarItem } from './helpers';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hello_world');

test('file browser: new pipeline from selection, add to pipeline, export as DAG', async ({
  page,
  tmpPath
}) => {
  for (const file of ['hello.py', 'world.py']) {
    await page.contents.uploadContent(
      `print("${file}")\n`,
      'text',
      `${tmpPath}/${file}`
    );
  }
  await page.filebrowser.openDirectory(tmpPath);
  const item = (name: string) =>
    page.locator('.jp-DirListing-item', {
      has: page.locator('.jp-DirListing-itemText', { hasText: name })
    });

  await item('hello.py').click({ button: 'right' });
  const menu = page.locator('.lm-Menu').last();
  await expect(
    menu.getByText('New Pipeline from Selection', { exact: true })
  ).toBeVisible();
  await expect(menu.getByText('Add to Pipeline…', { exact: true })).toBeVisible();
  await expect(
    menu.getByText('Export as Airflow DAG…', { exact: true })
  ).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/filebrowser-context-menu.png` });
  await menu.getByText('New Pipeline from Selection', { exact: true }).click();

  await expect(node(page, 'hello.py')).toBeVisible();
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current', {
      // named after the file it starts from (issue 18)
      hasText: 'hello.pipeline'
    })
  ).toBeVisible();

  await item('world.py').click({ button: 'right' });
  await page
    .locator('.lm-Menu')
    .last()
    .getByText('Add to Pipeline…', { exact: true })
    .click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('select[name="pipeline"]')).toHaveValue(
    `${tmpPath}/hello.pipeline`
  );
  await dialog.getByRole('button', { name: 'Add' }).click();
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);

  // a script alone: a one-node pipeline next to it, then the export dialog
  await item('world.py').click({ button: 'right' });
  await page
    .locator('.lm-Menu')
    .last()
    .getByText('Export as Airflow DAG…', { exact: true })
    .click();
  await expect(dialog.locator('select[name="runtime_config"]')).toBeVisible();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  expect(await page.contents.fileExists(`${tmpPath}/world.pipeline`)).toBe(true);
  await expect(node(page, 'world.py')).toBeVisible();
});

test('submit with the local runtime shows the steps and the commit', async ({
  page,
  tmpPath
}) => {
  for (const file of ['hello.py', 'world.py', 'hello_world.pipeline']) {
    await page.contents.uploadContent(
      fs.readFileSync(path.join(EXAMPLE, file), 'utf-8'),
      'text',
      `${tmpPath}/${file}`
    );
  }
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(`${tmpPath}/hello_world.pipeline`);
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);

  await toolbarItem(page, 'submit').click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('select[name="runtime_config"]').selectOption('local');
  await dialog.getByRole('button', { name: 'Submit' }).click();
  await expect(dialog).toContainText('Pipeline submitted');
  await expect(dialog.locator('.jp-MLPipe-Commit')).toHaveText(/^[0-9a-f]{40}$/);
  await expect(dialog.locator('.jp-MLPipe-Steps li')).not.toHaveCount(0);
  await expect(
    dialog.locator('.jp-MLPipe-Steps li[data-status="ok"]', { hasText: 'commit' })
  ).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/submit-result.png` });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
});
