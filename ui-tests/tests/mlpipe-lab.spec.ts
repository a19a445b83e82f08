/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { expect, test } from '@jupyterlab/galata';

const COMMAND = 'mlpipe-lab:create-new-pipeline';
const SCREENSHOTS = 'screenshots';

test.describe('activation', () => {
  test.use({ autoGoto: false });

  test('logs the activation message on page load', async ({ page }) => {
    const messages: string[] = [];
    page.on('console', message => {
      messages.push(message.text());
    });

    await page.goto();

    await expect
      .poll(() =>
        messages.some(text => text.includes('mlpipe-lab: extension activated'))
      )
      .toBe(true);

    // the server check reports either way; a missing route is tolerated here
    await expect
      .poll(() =>
        messages.find(text => text.startsWith('mlpipe-lab: server extension'))
      )
      .toBeDefined();
    const server = messages.find(text =>
      text.startsWith('mlpipe-lab: server extension')
    );
    test.info().annotations.push({ type: 'server', description: server });
  });
});

test.describe('new pipeline', () => {
  test('launcher card creates untitled.pipeline in the current directory', async ({
    page,
    tmpPath
  }) => {
    // a fresh launcher in tmpPath, alone in the main area
    const launcherId = await page.evaluate(async cwd => {
      const { commands } = window.jupyterapp;
      await commands.execute('application:close-all');
      const widget = (await commands.execute('launcher:create', {
        cwd
      })) as { id: string };
      return widget.id;
    }, tmpPath);

    const section = page
      .locator(`[id="${launcherId}"]`)
      .locator('.jp-Launcher-section', {
        has: page.locator('.jp-Launcher-sectionTitle', {
          hasText: 'ML Pipelines'
        })
      });
    const card = section.locator('.jp-LauncherCard', {
      hasText: 'New Pipeline'
    });
    await expect(card).toBeVisible();
    await expect(
      card.locator('svg[data-icon="mlpipe-lab:pipeline"]')
    ).toHaveCount(1);
    await card.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SCREENSHOTS}/launcher.png` });

    await card.click();

    // the new file opens in the pipeline editor
    await expect(
      page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
        hasText: 'untitled.pipeline'
      })
    ).toBeVisible();
    await expect(
      page.locator('.jp-MLPipe-EditorWidget:visible [data-testid="mlpipe-canvas"]')
    ).toBeVisible();

    // listed in the file browser with our icon
    const item = page.locator('.jp-DirListing-item', {
      has: page.locator('.jp-DirListing-itemText', {
        hasText: /^untitled\.pipeline$/
      })
    });
    await expect(item).toBeVisible();
    await expect(
      item.locator('.jp-DirListing-itemIcon svg[data-icon="mlpipe-lab:pipeline"]')
    ).toHaveCount(1);

    // the content is an Elyra v8 pipeline named after the file
    const path = `${tmpPath}/untitled.pipeline`;
    const content = await page.evaluate(async path => {
      const model = await window.jupyterapp.serviceManager.contents.get(path, {
        type: 'file',
        format: 'text',
        content: true
      });
      return model.content as string;
    }, path);
    const doc = JSON.parse(content);
    expect(doc.doc_type).toBe('pipeline');
    expect(doc.pipelines[0].app_data.version).toBe(8);
    expect(doc.pipelines[0].app_data.runtime_type).toBe('APACHE_AIRFLOW');
    expect(doc.pipelines[0].app_data.properties.name).toBe('untitled');
  });

  test('a second pipeline gets the next free name', async ({
    page,
    tmpPath
  }) => {
    const created = await page.evaluate(
      async ([command, cwd]) => {
        const paths: string[] = [];
        for (let i = 0; i < 2; i++) {
          const model = (await window.jupyterapp.commands.execute(command, {
            cwd
          })) as { path: string };
          paths.push(model.path);
        }
        return paths;
      },
      [COMMAND, tmpPath]
    );
    expect(created).toEqual([
      `${tmpPath}/untitled.pipeline`,
      `${tmpPath}/untitled1.pipeline`
    ]);
    expect(await page.contents.fileExists(created[1])).toBe(true);
  });
});

test('the create-new-pipeline command is registered with a label', async ({
  page
}) => {
  const command = await page.evaluate(id => {
    const commands = window.jupyterapp.commands;
    return {
      exists: commands.hasCommand(id),
      label: commands.label(id, {}),
      paletteLabel: commands.label(id, { isPalette: true }),
      enabled: commands.isEnabled(id, {})
    };
  }, COMMAND);
  expect(command.exists).toBe(true);
  expect(command.label).toBe('New Pipeline');
  expect(command.paletteLabel.length).toBeGreaterThan(0);
  expect(command.enabled).toBe(true);
});

test('File › New › Pipeline creates a pipeline in the file browser directory', async ({
  page,
  tmpPath
}) => {
  await page.menu.open('File>New');
  const item = page
    .locator('.lm-Menu')
    .last()
    .locator('.lm-Menu-item', {
      has: page.locator('.lm-Menu-itemLabel', { hasText: /^Pipeline$/ })
    });
  await expect(item).toBeVisible();
  await item.click();

  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
      hasText: 'untitled.pipeline'
    })
  ).toBeVisible();
  expect(await page.contents.fileExists(`${tmpPath}/untitled.pipeline`)).toBe(
    true
  );
});

test('the showInLauncher setting hides and restores the card live', async ({
  page
}) => {
  const setShowInLauncher = (value: boolean) =>
    page.evaluate(async value => {
      const registry = await window.galata.getPlugin(
        '@jupyterlab/apputils-extension:settings'
      );
      await registry!.set('mlpipe-lab:launcher', 'showInLauncher', value);
    }, value);
  const cards = page.locator('.jp-LauncherCard[data-category="ML Pipelines"]');

  await page.evaluate(async () => {
    const { commands } = window.jupyterapp;
    await commands.execute('application:close-all');
    await commands.execute('launcher:create');
  });
  await expect(cards).toHaveCount(1);

  await setShowInLauncher(false);
  await expect(cards).toHaveCount(0);

  await setShowInLauncher(true);
  await expect(cards).toHaveCount(1);
});
