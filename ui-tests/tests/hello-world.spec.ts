/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The hello-world flow as a user does it: new pipeline, two scripts dragged in
 * from the file browser, linked, a runtime image added in the catalog panel and
 * chosen for both nodes, save, export with the built-in `local` runtime.
 */

import { expect, test } from '@jupyterlab/galata';

import {
  api,
  canvas,
  connectNodes,
  dragFileToCanvas,
  editor,
  node,
  readFile,
  SCREENSHOTS,
  toolbarItem
} from './helpers';

test('hello world: build, save and export a two-node pipeline', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(120_000);
  const stamp = Date.now().toString(36);
  const imageName = `Hello Python ${stamp}`;
  const IMAGE = `python:3.11-slim-${stamp}`;

  // the two scripts, made with the contents API
  await page.contents.uploadContent(
    'print("hello")\n',
    'text',
    `${tmpPath}/hello.py`
  );
  await page.contents.uploadContent(
    'print("world")\n',
    'text',
    `${tmpPath}/world.py`
  );
  await page.filebrowser.openDirectory(tmpPath);

  // a runtime image, added in the catalog panel
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('mlpipe-lab:open-runtime-images')
  );
  const catalog = page.locator('#mlpipe-lab-runtime-images');
  await expect(catalog).toBeVisible();
  await catalog.locator('button[data-action="add"]').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('.jp-MLPipe-EntryForm')).toBeVisible();
  await dialog.locator('#mlpipe-runtime-images_display_name').fill(imageName);
  await dialog.locator('#mlpipe-runtime-images_image').fill(IMAGE);
  await page.screenshot({ path: `${SCREENSHOTS}/catalog-image-dialog.png` });
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(
    catalog.locator('.jp-MLPipe-Catalog-item', { hasText: imageName })
  ).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/catalog-runtime-images.png` });

  // back to the file browser; a new pipeline named hello_world.pipeline
  await page.sidebar.openTab('filebrowser');
  const created = (await page.evaluate(async cwd => {
    const model = (await window.jupyterapp.commands.execute(
      'mlpipe-lab:create-new-pipeline',
      { cwd }
    )) as { path: string };
    return model.path;
  }, tmpPath)) as string;
  await expect(canvas(page)).toBeVisible();
  const path = `${tmpPath}/hello_world.pipeline`;
  expect(await page.contents.renameFile(created, path)).toBe(true);
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current', {
      hasText: 'hello_world.pipeline'
    })
  ).toBeVisible();

  // drag both scripts in from the file browser
  await dragFileToCanvas(page, 'hello.py', { x: 250, y: 200 });
  await expect(node(page, 'hello.py')).toBeVisible();
  await dragFileToCanvas(page, 'world.py', { x: 550, y: 330 });
  await expect(node(page, 'world.py')).toBeVisible();
  await expect(canvas(page).locator('.react-flow__node')).toHaveCount(2);

  // connect hello -> world
  await connectNodes(page, 'hello.py', 'world.py');
  await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(1);

  // the pipeline's name, in the Pipeline tab
  const properties = editor(page).locator('[data-testid="mlpipe-properties"]');
  await properties.getByRole('tab', { name: 'Pipeline' }).click();
  await properties.locator('[id$="-pipeline_properties_name"]').fill('hello_world');

  // the runtime image of each node, from the catalog
  for (const label of ['hello.py', 'world.py']) {
    await node(page, label).click();
    await expect(properties.locator('.jp-MLPipe-Properties-heading')).toHaveText(
      label
    );
    const select = properties.locator('select.jp-MLPipe-RuntimeImage');
    await expect(select.locator(`option[value="${IMAGE}"]`)).toHaveCount(1);
    await select.selectOption(IMAGE);
  }
  await expect(editor(page).locator('.jp-MLPipe-Badge-error')).toHaveCount(0);
  await page.screenshot({ path: `${SCREENSHOTS}/editor-properties.png` });

  // save
  await toolbarItem(page, 'save').click();
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty')
  ).toHaveCount(0);
  const saved = JSON.parse(await readFile(page, path));
  const nodes = saved.pipelines[0].nodes;
  expect(nodes.map((n: any) => n.app_data.component_parameters.filename)).toEqual([
    'hello.py',
    'world.py'
  ]);
  expect(
    nodes.map((n: any) => n.app_data.component_parameters.runtime_image)
  ).toEqual([IMAGE, IMAGE]);
  expect(nodes[1].inputs[0].links[0]).toMatchObject({
    node_id_ref: nodes[0].id,
    port_id_ref: 'outPort'
  });
  expect(saved.pipelines[0].app_data.properties.name).toBe('hello_world');

  // export with the built-in local runtime configuration
  await toolbarItem(page, 'export').click();
  const exportDialog = page.locator('.jp-Dialog');
  await expect(exportDialog.locator('select[name="runtime_config"]')).toBeVisible();
  await exportDialog.locator('select[name="runtime_config"]').selectOption('local');
  await page.screenshot({ path: `${SCREENSHOTS}/export-dialog.png` });
  await exportDialog.getByRole('button', { name: 'Export' }).click();
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
      hasText: 'hello_world.py'
    })
  ).toBeVisible();
  // into the dags folder beside the pipeline, never over a source file
  expect(await page.contents.fileExists(`${tmpPath}/dags/hello_world.py`)).toBe(
    true
  );

  // the server agrees the saved pipeline is valid
  const validation = await api(page, 'validate', {
    method: 'POST',
    body: { path }
  });
  expect(validation.status).toBe(200);
  expect(validation.body.valid).toBe(true);
  expect(
    validation.body.problems.filter((p: any) => p.severity === 'error')
  ).toEqual([]);

  // leave the catalog as it was
  const images = await api(page, 'catalogs/runtime-images');
  const entry = images.body.items.find((i: any) => i.image === IMAGE);
  expect(
    (await api(page, `catalogs/runtime-images/${entry.name}`, { method: 'DELETE' }))
      .status
  ).toBe(204);
});
