/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Operator nodes and supernodes: a component catalog added in its panel (a
 * folder of Airflow operator files), its operators in the palette grouped by
 * catalog, a dropped operator's generated properties form with the server's
 * problems on its fields; grouping nodes into a supernode, expanding,
 * opening and leaving it; light and dark.
 */

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  api,
  canvas,
  editor,
  node,
  pipelineDocument,
  readFile,
  SCREENSHOTS
} from './helpers';

/** An Airflow operator as a user's folder has it (parsed, never imported). */
const GREET_OPERATOR = `from airflow.models import BaseOperator


class GreetOperator(BaseOperator):
    """Greet someone in the task log.

    :param name: Who to greet.
    :param times: How many times.
    :param options: Extra settings.
    :param loud: Shout the greeting.
    """

    template_fields = ("name",)

    def __init__(self, name: str, times: int = 1, options: dict | None = None, loud: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.name = name
        self.times = times
        self.options = options or {}
        self.loud = loud

    def execute(self, context):
        for _ in range(self.times):
            print(self.name.upper() if self.loud else self.name)
`;

async function openPipeline(
  page: IJupyterLabPageFixture,
  path: string,
  content: string
): Promise<void> {
  await page.contents.uploadContent(content, 'text', path);
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('filebrowser:activate')
  );
  await page.filebrowser.open(path);
  await expect(canvas(page)).toBeVisible();
}

async function save(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('docmanager:save')
  );
  await expect(
    page.locator(
      '.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty'
    )
  ).toHaveCount(0);
}

test('component catalog of operator files: palette group, generated form, server problems on the field, light and dark', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(120_000);
  const listed = await page.request.get('/mlpipe-lab/components');
  test.skip(
    listed.status() === 404,
    'the server has no GET /mlpipe-lab/components yet'
  );
  const stamp = Date.now().toString(36);
  const title = `Team operators ${stamp}`;
  await page.contents.uploadContent(
    GREET_OPERATOR,
    'text',
    `${tmpPath}/operators/greet_operator.py`
  );

  // the catalog, added in its panel: a folder of operator files
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('mlpipe-lab:open-component-catalogs')
  );
  const panel = page.locator('#mlpipe-lab-component-catalogs');
  await expect(panel).toBeVisible();
  await panel.locator('button[data-action="add"]').click();
  const dialog = page.locator('.jp-Dialog');
  const form = dialog.locator('.jp-MLPipe-EntryForm');
  await expect(form).toBeVisible();
  await form.locator('#mlpipe-component-catalogs_display_name').fill(title);
  // fields of the source type only
  await expect(form.locator('#mlpipe-component-catalogs_modules')).toHaveCount(
    0
  );
  await form
    .locator('.jp-arrayFieldWrapper', { hasText: 'Paths' })
    .last()
    .getByRole('button', { name: 'Add item' })
    .click();
  await form
    .locator('#mlpipe-component-catalogs_paths_0')
    .fill(`${tmpPath}/operators`);
  // the package the workers import the folder's files as
  await form.locator('#mlpipe-component-catalogs_python_package').fill('team_ops');
  await page.screenshot({ path: `${SCREENSHOTS}/catalog-components-dialog.png` });
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toHaveCount(0);
  const item = panel.locator('.jp-MLPipe-Catalog-item', { hasText: title });
  await expect(item).toContainText('Folders');
  const catalog = (await item.getAttribute('data-name'))!;

  // its operator in the palette, under the catalog's name
  const path = `${tmpPath}/ops.pipeline`;
  await openPipeline(page, path, pipelineDocument('ops'));
  const group = canvas(page).locator('.jp-MLPipe-Palette-group', {
    hasText: title
  });
  const entry = group.locator('.jp-MLPipe-Palette-item', {
    hasText: 'GreetOperator'
  });
  await expect(entry).toBeVisible({ timeout: 20_000 });
  const op = (await entry.getAttribute('data-op'))!;

  // dragged onto the canvas: a node of that component
  const box = (await canvas(page).boundingBox())!;
  await entry.dragTo(canvas(page), {
    targetPosition: { x: box.width / 2, y: box.height / 2 }
  });
  const greet = node(page, 'GreetOperator');
  await expect(greet).toBeVisible();
  await expect(greet.locator('.jp-MLPipe-Node')).toHaveAttribute('data-op', op);
  await greet.click();
  const properties = editor(page).locator('[data-testid="mlpipe-properties"]');
  const field = (name: string) =>
    properties.locator(`[id$="_component_parameters_${name}"]`);
  await expect(field('name')).toBeVisible();
  await expect(field('times')).toHaveAttribute('placeholder', '1');
  await expect(field('options')).toHaveAttribute('data-value-type', 'object');
  await expect(field('loud')).toHaveAttribute('type', 'checkbox');

  // the required argument is missing: the server says so on the node and the field
  await expect(greet.locator('.jp-MLPipe-Badge-error')).toBeVisible({
    timeout: 20_000
  });
  await expect(
    properties.locator('.jp-MLPipe-FieldError', { hasText: "needs 'name'" })
  ).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/operator-node-light.png` });

  // hostile text stays text
  const hostile = "x'); import os; os.system('id'); ('";
  await field('name').fill(hostile);
  await field('times').fill('3');
  await field('options').fill('{"greeting": "hi"}');
  await expect(greet.locator('.jp-MLPipe-Badge-error')).toHaveCount(0, {
    timeout: 20_000
  });
  await page.theme.setDarkTheme();
  await expect(field('name')).toHaveValue(hostile);
  await page.screenshot({ path: `${SCREENSHOTS}/operator-node-dark.png` });
  await page.theme.setLightTheme();

  await save(page);
  const doc = JSON.parse(await readFile(page, path));
  const saved = doc.pipelines[0].nodes[0];
  expect(saved.op).toBe(op);
  expect(saved.app_data.component_parameters).toEqual({
    name: hostile,
    times: 3,
    options: { greeting: 'hi' }
  });

  // the catalog goes, and with it the palette group
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('mlpipe-lab:open-component-catalogs')
  );
  await item.locator('button[data-action="delete"]').click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(item).toHaveCount(0);
  await expect(group).toHaveCount(0, { timeout: 20_000 });
  const list = await api(page, 'catalogs/component-catalogs');
  expect(list.body.items.map((i: any) => i.name)).not.toContain(catalog);
});

/** A node of a test pipeline. */
function scriptNode(id: string, x: number, upstream?: string): object {
  return {
    id,
    type: 'execution_node',
    op: 'execute-python-node',
    app_data: {
      label: id,
      component_parameters: { filename: `${id}.py` },
      ui_data: { label: id, x_pos: x, y_pos: 100 }
    },
    inputs: [
      {
        id: 'inPort',
        links: upstream
          ? [{ id: `${upstream}-${id}`, node_id_ref: upstream, port_id_ref: 'outPort' }]
          : []
      }
    ],
    outputs: [{ id: 'outPort' }]
  };
}

test('supernodes: group a selection, expand, collapse, open, edit inside, leave; saved as Elyra pipeline-flow v3', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(90_000);
  const path = `${tmpPath}/grouped.pipeline`;
  await openPipeline(
    page,
    path,
    pipelineDocument('grouped', [
      scriptNode('load', 0),
      scriptNode('clean', 250, 'load'),
      scriptNode('train', 500, 'clean'),
      scriptNode('report', 750, 'train')
    ])
  );
  await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(3);

  // select two nodes and group them
  await node(page, 'clean').click();
  await node(page, 'train').click({ modifiers: ['Control'] });
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('mlpipe-lab:group-into-supernode')
  );
  const supernode = canvas(page).locator('[data-testid="mlpipe-supernode"]');
  await expect(supernode).toHaveCount(1);
  await expect(supernode).toContainText('2 nodes');
  // the problems of the nodes inside (their files do not exist) show on the group
  await expect(supernode.locator('.jp-MLPipe-Badge-error')).toBeVisible({
    timeout: 15_000
  });
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(3);
  // links now go through the supernode
  await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(2);

  // expanded: its nodes show inside
  await supernode.getByRole('button', { name: 'Expand supernode' }).click();
  await expect(supernode.locator('.jp-MLPipe-Supernode-chip')).toHaveText([
    'clean',
    'train'
  ]);
  await page.screenshot({ path: `${SCREENSHOTS}/supernode-expanded-light.png` });
  await page.theme.setDarkTheme();
  await page.screenshot({ path: `${SCREENSHOTS}/supernode-expanded-dark.png` });
  await page.theme.setLightTheme();
  await supernode.getByRole('button', { name: 'Collapse supernode' }).click();
  await expect(supernode.locator('.jp-MLPipe-Supernode-chip')).toHaveCount(0);

  // opened: its own nodes and the bindings where links cross its border
  await supernode.dblclick();
  const trail = canvas(page).locator('[data-testid="mlpipe-trail"]');
  await expect(trail).toContainText('Supernode');
  await expect(node(page, 'load')).toHaveCount(0);
  await expect(node(page, 'clean')).toBeVisible();
  await expect(canvas(page).locator('.jp-MLPipe-Binding')).toHaveCount(2);
  await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(3);
  // edit inside: rename a node there
  await node(page, 'train').click();
  const label = editor(page).locator(
    '[data-testid="mlpipe-properties"] [id$="-node-train_label"]'
  );
  await label.fill('train model');
  await expect(node(page, 'train model')).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/supernode-open.png` });

  // back out
  await trail.getByRole('button', { name: 'Pipeline' }).click();
  await expect(trail).toHaveCount(0);
  await expect(node(page, 'load')).toBeVisible();

  await save(page);
  const doc = JSON.parse(await readFile(page, path));
  expect(doc.version).toBe('3.0');
  expect(doc.pipelines).toHaveLength(2);
  const [primary, sub] = doc.pipelines;
  const group = primary.nodes.find((n: any) => n.type === 'super_node');
  expect(group.subflow_ref.pipeline_id_ref).toBe(sub.id);
  expect(sub.nodes.filter((n: any) => n.type === 'binding')).toHaveLength(2);
  expect(
    sub.nodes.find((n: any) => n.id === 'train').app_data.label
  ).toBe('train model');
  const report = primary.nodes.find((n: any) => n.id === 'report');
  expect(report.inputs[0].links[0].node_id_ref).toBe(group.id);

  // the server reads the file (its compile of supernodes is the server's side)
  const validation = await api(page, 'validate', {
    method: 'POST',
    body: { path }
  });
  expect(validation.status).toBe(200);
});
