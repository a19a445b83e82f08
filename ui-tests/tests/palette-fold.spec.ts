/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The node palette folds (issue 18): the button in its header (or the
 * toggle-palette command) folds it to a narrow strip, which leaves more of the
 * canvas free; a group folds by a click on its heading; both stay folded when
 * the pipeline is opened again.
 */

import { expect, test } from '@jupyterlab/galata';

import { canvas, editor, emptyPipeline, SCREENSHOTS } from './helpers';

test.setTimeout(120_000);

/** Width of the canvas right of the palette (the part nodes are not covered on). */
async function freeWidth(page: any): Promise<number> {
  const flow = await canvas(page).boundingBox();
  const palette = await editor(page)
    .locator('.jp-MLPipe-Palette')
    .boundingBox();
  return flow!.x + flow!.width - (palette!.x + palette!.width);
}

test('the palette folds to a strip and back, its groups fold, and both are kept', async ({
  page,
  tmpPath
}) => {
  const path = `${tmpPath}/fold.pipeline`;
  await page.contents.uploadContent(emptyPipeline('fold'), 'text', path);
  // opened by the command (galata's filebrowser.open waits on the tab and timed out on a cold start)
  await page.evaluate(async path => {
    await window.jupyterapp.commands.execute('docmanager:open', { path });
  }, path);

  const palette = editor(page).locator('.jp-MLPipe-Palette');
  const toggle = palette.getByRole('button', {
    name: 'Collapse the node palette'
  });
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  const items = palette.locator('.jp-MLPipe-Palette-item');
  await expect(items.first()).toBeVisible();
  const itemCount = await items.count();
  const before = await freeWidth(page);

  // a group folds by its heading, and only that group's entries go
  const firstGroup = palette.locator('.jp-MLPipe-Palette-group').first();
  const heading = firstGroup.locator('.jp-MLPipe-Palette-title');
  const groupName = (await firstGroup.getAttribute('aria-label'))!;
  const inGroup = await firstGroup.locator('.jp-MLPipe-Palette-item').count();
  expect(inGroup).toBeGreaterThan(0);
  await heading.click();
  await expect(heading).toHaveAttribute('aria-expanded', 'false');
  await expect(items).toHaveCount(itemCount - inGroup);

  // the header's button, by keyboard: folded to a narrow strip, the canvas is freer
  await toggle.focus();
  await page.keyboard.press('Enter');
  const show = palette.getByRole('button', { name: 'Show the node palette' });
  await expect(show).toHaveAttribute('aria-expanded', 'false');
  await expect(items).toHaveCount(0);
  const after = await freeWidth(page);
  expect(after).toBeGreaterThan(before + 100);
  expect((await palette.boundingBox())!.width).toBeLessThan(40);
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({
      path: `${SCREENSHOTS}/palette-folded-${theme}.png`
    });
  }
  await page.theme.setLightTheme();

  // closed, the page reloaded (the state is in the user's settings) and opened again: still folded
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('application:close-all');
  });
  await page.reload();
  await page.evaluate(async path => {
    await window.jupyterapp.commands.execute('docmanager:open', { path });
  }, path);
  await expect(show).toBeVisible();
  await expect(show).toHaveAttribute('aria-expanded', 'false');
  expect(await freeWidth(page)).toBeGreaterThan(before + 100);

  // the command unfolds it; the folded group is still folded
  await page.evaluate(async () => {
    await window.jupyterapp.commands.execute('mlpipe-lab:toggle-palette');
  });
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(
    palette
      .locator('.jp-MLPipe-Palette-group', { hasText: groupName })
      .first()
      .locator('.jp-MLPipe-Palette-title')
  ).toHaveAttribute('aria-expanded', 'false');
  await expect(items).toHaveCount(itemCount - inGroup);
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({
      path: `${SCREENSHOTS}/palette-group-folded-${theme}.png`
    });
  }
  await page.theme.setLightTheme();
});
