/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Names follow the file (issue 18): a pipeline made from the launcher, or
 * renamed in the file browser (open or closed), takes its file's name, which
 * its DAG id derives from; a copy still named like its original says so; two
 * open pipelines of the same file name have tabs that tell them apart; "Add
 * to pipeline" offers the folder's pipeline and never adds a file twice.
 */

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  canvas,
  editor,
  emptyPipeline,
  node,
  pipelineDocument,
  readFile,
  SCREENSHOTS
} from './helpers';

test.setTimeout(120_000);

const item = (page: IJupyterLabPageFixture, name: string) =>
  page.locator('.jp-DirListing-item', {
    has: page.locator('.jp-DirListing-itemText', {
      hasText: new RegExp(`^${name.replace(/\./g, '\\.')}$`)
    })
  });

/** Rename a file the way a user does: context menu, type, Enter. */
async function renameInBrowser(
  page: IJupyterLabPageFixture,
  from: string,
  to: string
): Promise<void> {
  await item(page, from).click({ button: 'right' });
  await page
    .locator('.lm-Menu')
    .last()
    .getByText('Rename', { exact: true })
    .click();
  const input = page.locator('.jp-DirListing-editor');
  await input.fill(to);
  await input.press('Enter');
  await expect(item(page, to)).toBeVisible();
}

const savedName = async (page: IJupyterLabPageFixture, path: string) =>
  JSON.parse(await readFile(page, path)).pipelines[0].app_data.properties.name;

test('a new pipeline renamed in the file browser takes the new name, open or closed', async ({
  page,
  tmpPath
}) => {
  await page.filebrowser.openDirectory(tmpPath);
  await page.evaluate(
    cwd =>
      window.jupyterapp.commands.execute('mlpipe-lab:create-new-pipeline', {
        cwd
      }),
    tmpPath
  );
  await expect(canvas(page)).toBeVisible();
  expect(await savedName(page, `${tmpPath}/untitled.pipeline`)).toBe(
    'untitled'
  );

  // open: the editor follows the rename, the file on disk too
  await renameInBrowser(page, 'untitled.pipeline', 'churn.pipeline');
  await expect
    .poll(() => savedName(page, `${tmpPath}/churn.pipeline`))
    .toBe('churn');
  const properties = editor(page).locator('[data-testid="mlpipe-properties"]');
  await properties.getByRole('tab', { name: 'Pipeline' }).click();
  await expect(
    properties.locator('[id$="-pipeline_properties_name"]')
  ).toHaveValue('churn');
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty')
  ).toHaveCount(0);
  // the export dialog says which DAG it makes
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('mlpipe-lab:export-pipeline');
  });
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('[data-field="dag_id"]')).toHaveText('churn', {
    timeout: 20_000
  });
  await expect(dialog.locator('[data-field="dag_path"]')).toHaveText(
    `${tmpPath}/dags/churn.py`
  );
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  // closed: renamed from the file browser, the file's name follows as well
  await page.contents.uploadContent(
    emptyPipeline('untitled1'),
    'text',
    `${tmpPath}/untitled1.pipeline`
  );
  await page.filebrowser.refresh();
  await renameInBrowser(page, 'untitled1.pipeline', 'forecast.pipeline');
  await expect
    .poll(() => savedName(page, `${tmpPath}/forecast.pipeline`))
    .toBe('forecast');
  // a name the user chose is theirs: it stays
  await page.contents.uploadContent(
    emptyPipeline('Nightly churn model'),
    'text',
    `${tmpPath}/nightly.pipeline`
  );
  await page.filebrowser.refresh();
  await renameInBrowser(page, 'nightly.pipeline', 'nightly2.pipeline');
  await page.waitForTimeout(1000);
  expect(await savedName(page, `${tmpPath}/nightly2.pipeline`)).toBe(
    'Nightly churn model'
  );
});

test('a copy still named like its original says so; same-named files have distinct tabs', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadContent(
    emptyPipeline('hello'),
    'text',
    `${tmpPath}/hello.pipeline`
  );
  await page.filebrowser.openDirectory(tmpPath);
  await item(page, 'hello.pipeline').click({ button: 'right' });
  await page
    .locator('.lm-Menu')
    .last()
    .getByText('Duplicate', { exact: true })
    .click();
  const copy = page.locator('.jp-DirListing-itemText', {
    hasText: /^hello-Copy\d*\.pipeline$/
  });
  await expect(copy).toBeVisible();
  const copyName = (await copy.textContent())!.trim();
  await page.filebrowser.open(`${tmpPath}/${copyName}`);
  const warning = editor(page).locator('.jp-MLPipe-NameWarning');
  await expect(warning).toContainText(
    'This pipeline is named "hello", like hello.pipeline beside it'
  );
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({ path: `${SCREENSHOTS}/name-warning-${theme}.png` });
  }
  await page.theme.setLightTheme();
  const stem = copyName.replace(/\.pipeline$/, '');
  await warning.getByRole('button', { name: `Name it "${stem}"` }).click();
  await expect(warning).toHaveCount(0);
  const properties = editor(page).locator('[data-testid="mlpipe-properties"]');
  await properties.getByRole('tab', { name: 'Pipeline' }).click();
  await expect(
    properties.locator('[id$="-pipeline_properties_name"]')
  ).toHaveValue(stem);

  // two open train.pipeline files: their tabs say which folder
  for (const folder of ['iris', 'churn']) {
    await page.contents.uploadContent(
      emptyPipeline('train'),
      'text',
      `${tmpPath}/${folder}/train.pipeline`
    );
    await page.evaluate(async path => {
      await window.jupyterapp.commands.execute('docmanager:open', { path });
    }, `${tmpPath}/${folder}/train.pipeline`);
  }
  const tab = (folder: string) =>
    page.locator(
      `.lm-DockPanel-tabBar .lm-TabBar-tab[data-mlpipe-folder="${folder}/"]`,
      { hasText: /^train\.pipeline$/ }
    );
  await expect(tab('iris')).toHaveCount(1);
  await expect(tab('churn')).toHaveCount(1);
  // the folder is what the tab shows before the name
  expect(
    await tab('iris').evaluate(
      el => getComputedStyle(el, '::before').content
    )
  ).toBe('"iris/"');
  // a tab whose name is unique needs no folder
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab[data-mlpipe-folder]')
  ).toHaveCount(2);
  await page.screenshot({ path: `${SCREENSHOTS}/distinct-tabs.png` });
});

test('Add to pipeline offers the folder’s pipeline and does not add a file twice', async ({
  page,
  tmpPath
}) => {
  const files = ['prepare.py', 'train.py'];
  for (const file of files) {
    await page.contents.uploadContent(
      `print("${file}")\n`,
      'text',
      `${tmpPath}/iris/${file}`
    );
  }
  await page.contents.uploadContent(
    emptyPipeline('elsewhere'),
    'text',
    `${tmpPath}/elsewhere.pipeline`
  );
  const prepare = {
    id: 'n1',
    type: 'execution_node',
    op: 'execute-python-node',
    app_data: {
      component_parameters: { filename: 'prepare.py' },
      label: 'prepare.py',
      ui_data: { label: 'prepare.py', x_pos: 80, y_pos: 80 }
    },
    inputs: [{ id: 'inPort' }],
    outputs: [{ id: 'outPort' }]
  };
  await page.contents.uploadContent(
    pipelineDocument('iris', [prepare]),
    'text',
    `${tmpPath}/iris/iris.pipeline`
  );
  // a pipeline open elsewhere must not win over the folder's own
  await page.filebrowser.open(`${tmpPath}/elsewhere.pipeline`);
  await page.filebrowser.openDirectory(`${tmpPath}/iris`);

  const addTo = async (name: string) => {
    await item(page, name).click({ button: 'right' });
    await page
      .locator('.lm-Menu')
      .last()
      .getByText('Add to Pipeline…', { exact: true })
      .click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('select[name="pipeline"]')).toHaveValue(
      `${tmpPath}/iris/iris.pipeline`
    );
    await dialog.getByRole('button', { name: 'Add' }).click();
  };
  await addTo('train.py');
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
  await addTo('prepare.py');
  await expect(canvas(page).locator('.jp-MLPipe-Notice')).toContainText(
    'prepare.py is already in this pipeline; its node is selected.'
  );
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
  await expect(node(page, 'prepare.py')).toHaveClass(/selected/);
  await page.screenshot({ path: `${SCREENSHOTS}/add-to-pipeline-already.png` });
});
