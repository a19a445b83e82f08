/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The "Serve MLflow model" node: dragged from the palette, its model and alias
 * chosen from live lists read from an MLflow registry (a sqlite tracking store
 * made by jupyter_server_test_config.py), saved, and exported: the DAG holds
 * the tasks the node expands into.
 */

import * as path from 'path';

import { expect, test } from '@jupyterlab/galata';

import {
  canvas,
  editor,
  emptyPipeline,
  node,
  readFile,
  SCREENSHOTS,
  toolbarItem
} from './helpers';

const TRACKING_URI =
  'sqlite:///' + path.resolve(__dirname, '..', '.mlflow', 'mlflow.db');
const SERVE_OP = 'mlpipe:serve-mlflow-model';

test('serve node: palette, live registry lists, alias, save and export', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(180_000);
  const doc = JSON.parse(emptyPipeline('serve_demo'));
  doc.pipelines[0].app_data.properties.pipeline_defaults = {
    runtime_image: 'python:3.11'
  };
  const file = `${tmpPath}/serve_demo.pipeline`;
  await page.contents.uploadContent(JSON.stringify(doc), 'text', file);
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(file);
  await expect(canvas(page)).toBeVisible();

  // drag the node type from the palette
  await page.dragAndDrop(
    `.jp-MLPipe-EditorWidget:visible .jp-MLPipe-Palette-item[data-op="${SERVE_OP}"]`,
    '.jp-MLPipe-EditorWidget:visible [data-testid="mlpipe-canvas"]',
    { targetPosition: { x: 300, y: 300 } }
  );
  const serve = node(page, 'Serve MLflow model');
  await expect(serve).toBeVisible();
  await expect(serve).toContainText('no model chosen');
  await serve.click();
  const properties = editor(page).locator('[data-testid="mlpipe-properties"]');
  const trackingUri = properties.locator(
    '[id$="_component_parameters_tracking_uri"]'
  );

  // an unreachable registry says so under the field
  await trackingUri.fill('http://127.0.0.1:9');
  const status = properties.locator(
    '[data-field="model_name"] .jp-MLPipe-Registry-status'
  );
  await expect(status).toHaveClass(/jp-mod-error/, { timeout: 30_000 });
  await expect(status).toContainText('cannot be reached');

  // the registry's models, then the chosen model's versions and aliases
  await trackingUri.fill(TRACKING_URI);
  const model = properties.locator('select.jp-MLPipe-MlflowModel');
  await expect(model.locator('option[value="galata-demo"]')).toHaveCount(1, {
    timeout: 60_000
  });
  await model.selectOption('galata-demo');
  const versions = properties.locator('select.jp-MLPipe-Mlflow-version');
  await expect(versions.locator('option')).toHaveText(
    ['(no version: use an alias)', '2 · READY', '1 · READY · @champion'],
    { timeout: 30_000 }
  );
  const alias = properties.locator('select.jp-MLPipe-Mlflow-alias');
  await expect(alias.locator('option[value="champion"]')).toHaveText(
    'champion (version 1)'
  );
  await alias.selectOption('champion');
  // kserve-mlserver builds no image (kserve now builds our runtime's image and needs a registry)
  await properties
    .locator('[id$="_component_parameters_target"]')
    .selectOption('kserve-mlserver');
  await expect(serve).toContainText('models:/galata-demo@champion');
  await expect(editor(page).locator('.jp-MLPipe-Badge-error')).toHaveCount(0, {
    timeout: 30_000
  });
  await trackingUri.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOTS}/serve-node-properties.png` });
  await page.theme.setDarkTheme();
  await page.screenshot({
    path: `${SCREENSHOTS}/serve-node-properties-dark.png`
  });
  await page.theme.setLightTheme();

  // save: a pipeline-flow document with our node type
  await toolbarItem(page, 'save').click();
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty')
  ).toHaveCount(0);
  const saved = JSON.parse(await readFile(page, file));
  const [saved_node] = saved.pipelines[0].nodes;
  expect(saved_node.op).toBe(SERVE_OP);
  expect(saved_node.app_data.component_parameters).toEqual({
    tracking_uri: TRACKING_URI,
    model_name: 'galata-demo',
    model_alias: 'champion',
    target: 'kserve-mlserver'
  });

  // export with the built-in local runtime: the node became its tasks
  await toolbarItem(page, 'export').click();
  const exportDialog = page.locator('.jp-Dialog');
  await exportDialog.locator('select[name="runtime_config"]').selectOption('local');
  await exportDialog.getByRole('button', { name: 'Export' }).click();
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
      hasText: 'serve_demo.py'
    })
  ).toBeVisible();
  const dag = await readFile(page, `${tmpPath}/dags/serve_demo.py`);
  expect(dag).toContain('task_id="Serve_MLflow_model_package"');
  expect(dag).toContain('task_id="Serve_MLflow_model_check"');
  expect(dag).toContain('"--alias", "champion"');
  expect(dag).toContain('Serve_MLflow_model_package >> Serve_MLflow_model_check');
});
