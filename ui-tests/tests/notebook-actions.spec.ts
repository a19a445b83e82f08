/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Notebook entries: the toolbar buttons, the notebook context menu and the
 * File menu run the file-browser actions on the open notebook.
 */

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { canvas, node, SCREENSHOTS } from './helpers';

const NOTEBOOK = JSON.stringify({
  cells: [
    {
      cell_type: 'code',
      execution_count: null,
      id: 'c1',
      metadata: {},
      outputs: [],
      source: ['print("hello from the notebook")']
    }
  ],
  metadata: {
    kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' }
  },
  nbformat: 4,
  nbformat_minor: 5
});

/** A toolbar button of the visible notebook, by command id. */
function notebookButton(page: IJupyterLabPageFixture, command: string) {
  return page.locator(
    `.jp-NotebookPanel:visible .jp-NotebookPanel-toolbar [data-command="${command}"]`
  );
}

async function openNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  name: string
): Promise<void> {
  await page.contents.uploadContent(NOTEBOOK, 'text', `${tmpPath}/${name}`);
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(`${tmpPath}/${name}`);
  await expect(page.locator('.jp-NotebookPanel:visible .jp-Cell')).toHaveCount(1);
}

test.describe('notebook entries', () => {
  test('toolbar: new pipeline from this notebook', async ({ page, tmpPath }) => {
    await openNotebook(page, tmpPath, 'train.ipynb');
    const button = notebookButton(page, 'mlpipe-lab:notebook-new-pipeline');
    await expect(button).toBeVisible();
    await expect(
      notebookButton(page, 'mlpipe-lab:notebook-add-to-pipeline')
    ).toBeVisible();
    await expect(
      notebookButton(page, 'mlpipe-lab:notebook-export-as-dag')
    ).toBeVisible();
    await page
      .locator('.jp-NotebookPanel:visible .jp-NotebookPanel-toolbar')
      .screenshot({ path: `${SCREENSHOTS}/notebook-toolbar-light.png` });
    await page.theme.setDarkTheme();
    await page
      .locator('.jp-NotebookPanel:visible .jp-NotebookPanel-toolbar')
      .screenshot({ path: `${SCREENSHOTS}/notebook-toolbar-dark.png` });
    await page.theme.setLightTheme();

    await button.click();
    await expect(node(page, 'train.ipynb')).toBeVisible();
    await expect(
      page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current', {
        // named after the notebook (issue 18)
        hasText: 'train.pipeline'
      })
    ).toBeVisible();
    expect(await page.contents.fileExists(`${tmpPath}/train.pipeline`)).toBe(
      true
    );
  });

  test('context menu: add this notebook to a pipeline', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'prep.ipynb');
    // a pipeline to add to, created from the toolbar
    await notebookButton(page, 'mlpipe-lab:notebook-new-pipeline').click();
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(1);

    await page.filebrowser.open(`${tmpPath}/prep.ipynb`);
    await page
      .locator('.jp-NotebookPanel:visible .jp-Cell .jp-InputArea-editor')
      .click({ button: 'right' });
    const menu = page.locator('.lm-Menu').last();
    await expect(
      menu.getByText('New Pipeline from This Notebook', { exact: true })
    ).toBeVisible();
    await expect(
      menu.getByText('Export Notebook as Airflow DAG…', { exact: true })
    ).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/notebook-context-menu.png` });
    await menu.getByText('Add Notebook to Pipeline…', { exact: true }).click();

    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('select[name="pipeline"]')).toHaveValue(
      `${tmpPath}/prep.pipeline`
    );
    await dialog.getByRole('button', { name: 'Add' }).click();
    // the notebook is in that pipeline already: said, and not added twice (issue 18)
    await expect(canvas(page).locator('.jp-MLPipe-Notice')).toContainText(
      'prep.ipynb is already in this pipeline'
    );
    await expect(
      canvas(page).locator('.jp-MLPipe-Node[data-label="prep.ipynb"]')
    ).toHaveCount(1);
  });

  test('File menu: export this notebook as an Airflow DAG', async ({
    page,
    tmpPath
  }) => {
    await openNotebook(page, tmpPath, 'score.ipynb');
    // unsaved changes are saved first, so the export sees them
    await page.notebook.setCell(0, 'code', 'print("changed")');
    await page.menu.clickMenuItem('File>Export Notebook as Airflow DAG…');

    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('select[name="runtime_config"]')).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/notebook-export-dialog.png` });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await page.contents.fileExists(`${tmpPath}/score.pipeline`)).toBe(
      true
    );
    await expect(node(page, 'score.ipynb')).toBeVisible();
    const saved = await page.evaluate(async path => {
      const model = await window.jupyterapp.serviceManager.contents.get(path, {
        content: true
      });
      return JSON.stringify(model.content);
    }, `${tmpPath}/score.ipynb`);
    expect(saved).toContain('print(\\"changed\\")');
  });
});
