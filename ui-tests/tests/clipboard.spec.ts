/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Copy and paste through the system clipboard: between two pipeline editors,
 * between two browser tabs, and other text on the clipboard ignored.
 */

import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import { canvas, emptyPipeline, node, SCREENSHOTS } from './helpers';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hello_world');
const MIME = 'application/x-mlpipe-nodes+json';

test.use({
  // the async clipboard API needs these in a Playwright context
  permissions: ['clipboard-read', 'clipboard-write']
});

test('copy in one editor, paste in another and in another browser tab', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(180_000);
  for (const file of ['hello.py', 'world.py', 'hello_world.pipeline']) {
    await page.contents.uploadContent(
      fs.readFileSync(path.join(EXAMPLE, file), 'utf-8'),
      'text',
      `${tmpPath}/${file}`
    );
  }
  await page.contents.uploadContent(
    emptyPipeline('target'),
    'text',
    `${tmpPath}/target.pipeline`
  );
  await page.contents.uploadContent(
    emptyPipeline('other'),
    'text',
    `${tmpPath}/other.pipeline`
  );
  await page.filebrowser.openDirectory(tmpPath);

  // copy both nodes (and their link) of the example
  await page.filebrowser.open(`${tmpPath}/hello_world.pipeline`);
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
  await node(page, 'hello.py').click();
  await page.keyboard.press('Control+a');
  await page.keyboard.press('Control+c');
  await expect
    .poll(() => page.evaluate(() => navigator.clipboard.readText()))
    .toContain(MIME);

  // paste into a second editor in the same page
  await page.filebrowser.open(`${tmpPath}/target.pipeline`);
  await expect(canvas(page).locator('.jp-MLPipe-EmptyHint')).toBeVisible();
  await canvas(page).locator('.react-flow__pane').click();
  await page.keyboard.press('Control+v');
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
  await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(1);
  await page.screenshot({ path: `${SCREENSHOTS}/clipboard-pasted.png` });

  // other text on the clipboard: paste does nothing, and says nothing
  await page.evaluate(() =>
    navigator.clipboard.writeText('{"not": "nodes"} or just any text')
  );
  await page.keyboard.press('Control+v');
  await page.waitForTimeout(500);
  await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  await expect(canvas(page).locator('.jp-MLPipe-Notice')).toHaveCount(0);

  // copy in this tab, paste in a second tab (its own page: no shared memory)
  await page.filebrowser.open(`${tmpPath}/hello_world.pipeline`);
  await node(page, 'world.py').click();
  await page.keyboard.press('Control+c');
  await expect
    .poll(() => page.evaluate(() => navigator.clipboard.readText()))
    .toContain(MIME);

  const other = await page.context().newPage();
  await other.goto(
    `${page.url().split('/lab')[0]}/lab/workspaces/second/tree/${tmpPath}/other.pipeline?reset`
  );
  const otherCanvas = other.locator(
    '.jp-MLPipe-EditorWidget:visible [data-testid="mlpipe-canvas"]'
  );
  await expect(otherCanvas.locator('.jp-MLPipe-EmptyHint')).toBeVisible({
    timeout: 60_000
  });
  await otherCanvas.locator('.react-flow__pane').click();
  await other.keyboard.press('Control+v');
  await expect(
    otherCanvas.locator('.jp-MLPipe-Node[data-label="world.py"]')
  ).toHaveCount(1);
  await other.screenshot({ path: `${SCREENSHOTS}/clipboard-other-tab.png` });
  await other.close();
});
