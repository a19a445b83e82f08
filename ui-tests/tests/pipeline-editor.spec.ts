/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The pipeline editor: opening Elyra files, editing the graph (palette and file
 * drops, links, cycle refusal, undo/redo, delete, copy/paste, comments,
 * auto-layout), live validation, document behaviour and themes.
 */

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import {
  canvas,
  connectNodes,
  dragFileToCanvas,
  editor,
  emptyPipeline,
  node,
  readFile,
  SCREENSHOTS,
  toolbarItem
} from './helpers';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'hello_world');

/** The hello-world example, with a comment on the first node. */
function exampleWithComment(): string {
  const doc = JSON.parse(
    fs.readFileSync(path.join(EXAMPLE, 'hello_world.pipeline'), 'utf-8')
  );
  doc.pipelines[0].app_data.ui_data.comments = [
    {
      id: 'c1',
      x_pos: 90,
      y_pos: 10,
      width: 200,
      height: 50,
      content: 'Says hello first',
      associated_id_refs: [{ id: 'r1', node_ref: doc.pipelines[0].nodes[0].id }]
    }
  ];
  doc.custom_key = { kept: true };
  return JSON.stringify(doc, null, 2) + '\n';
}

async function openPipeline(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  name: string,
  content: string,
  files: string[] = []
): Promise<string> {
  for (const file of files) {
    await page.contents.uploadContent(
      `print("${file}")\n`,
      'text',
      `${tmpPath}/${file}`
    );
  }
  const path = `${tmpPath}/${name}`;
  await page.contents.uploadContent(content, 'text', path);
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(path);
  await expect(canvas(page)).toBeVisible();
  return path;
}

const dirtyTab = (page: IJupyterLabPageFixture) =>
  page.locator(
    '.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty'
  );

test.describe('pipeline editor', () => {
  test('opens Elyra pipelines with nodes, links, comments and the toolbar', async ({
    page,
    tmpPath
  }) => {
    await openPipeline(
      page,
      tmpPath,
      'hello_world.pipeline',
      exampleWithComment(),
      ['hello.py', 'world.py']
    );
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
    await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(1);
    await expect(canvas(page).locator('.jp-MLPipe-Comment')).toHaveText(
      'Says hello first'
    );
    await expect(canvas(page).locator('.jp-MLPipe-CommentLink')).toHaveCount(1);
    await expect(canvas(page).locator('.react-flow__minimap')).toBeVisible();
    for (const name of [
      'save',
      'undo',
      'redo',
      'clear',
      'auto-layout',
      'validate',
      'export',
      'submit',
      'properties'
    ]) {
      await expect(toolbarItem(page, name)).toBeVisible();
    }
    await expect(toolbarItem(page, 'export')).toContainText('Export');
    // the image is not in the catalog: a warning badge after live validation
    await expect(
      node(page, 'hello.py').locator('.jp-MLPipe-Badge-warning')
    ).toBeVisible();
    await expect(dirtyTab(page)).toHaveCount(0);
    await page.screenshot({ path: `${SCREENSHOTS}/editor-light.png` });

    const commands = await page.evaluate(() => {
      const { commands } = window.jupyterapp;
      const ids = [
        'mlpipe-lab:save-pipeline',
        'mlpipe-lab:validate-pipeline',
        'mlpipe-lab:export-pipeline',
        'mlpipe-lab:submit-pipeline',
        'mlpipe-lab:auto-layout',
        'mlpipe-lab:clear-pipeline',
        'mlpipe-lab:undo',
        'mlpipe-lab:redo',
        'mlpipe-lab:open-properties'
      ];
      return Promise.all(
        ids.map(async id => ({
          id,
          label: commands.label(id, {}),
          enabled: commands.isEnabled(id, {}),
          described: !!(await commands.describedBy(id)).args
        }))
      );
    });
    for (const command of commands) {
      expect(command.label.length, command.id).toBeGreaterThan(0);
      expect(command.described, command.id).toBe(true);
    }
    expect(commands.find(c => c.id === 'mlpipe-lab:undo')!.enabled).toBe(false);
    expect(
      commands.find(c => c.id === 'mlpipe-lab:export-pipeline')!.enabled
    ).toBe(true);

    // the other factory (text editor) is still offered
    const factories = await page.evaluate(
      path =>
        window.jupyterapp.docRegistry
          .preferredWidgetFactories(path)
          .map(f => f.name),
      `${tmpPath}/hello_world.pipeline`
    );
    expect(factories[0]).toBe('MLPipe Pipeline Editor');
    expect(factories).toContain('Editor');

    // double-clicking a node opens its file
    await node(page, 'hello.py').dblclick();
    await expect(
      page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current', {
        hasText: /^hello\.py$/
      })
    ).toBeVisible();
    await page.filebrowser.open(`${tmpPath}/hello_world.pipeline`);
    await expect(canvas(page)).toBeVisible();

    await page.theme.setDarkTheme();
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
    await page.screenshot({ path: `${SCREENSHOTS}/editor-dark.png` });
    const background = await canvas(page)
      .locator('.react-flow')
      .evaluate(el => getComputedStyle(el).backgroundColor);
    expect(background).not.toBe('rgb(255, 255, 255)');
    await page.theme.setLightTheme();
  });

  test('builds a graph: palette and file drops, links, cycles refused, undo, redo, delete, copy and paste', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(120_000);
    const path = await openPipeline(
      page,
      tmpPath,
      'graph.pipeline',
      emptyPipeline('graph'),
      ['a.py', 'b.py']
    );
    await expect(canvas(page).locator('.jp-MLPipe-EmptyHint')).toBeVisible();

    // a node type from the palette (HTML5 drag and drop)
    await page.dragAndDrop(
      '.jp-MLPipe-EditorWidget:visible .jp-MLPipe-Palette-item[data-op="execute-notebook-node"]',
      '.jp-MLPipe-EditorWidget:visible [data-testid="mlpipe-canvas"]',
      { targetPosition: { x: 250, y: 460 } }
    );
    await expect(node(page, 'Notebook')).toBeVisible();
    await expect(node(page, 'Notebook')).toContainText('no file chosen');

    // files from the file browser (Lumino drag)
    await dragFileToCanvas(page, 'a.py', { x: 250, y: 200 });
    await dragFileToCanvas(page, 'b.py', { x: 550, y: 330 });
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(3);
    await expect(dirtyTab(page)).toHaveCount(1);

    await connectNodes(page, 'a.py', 'b.py');
    await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(1);

    // b -> a would close a cycle: refused, and the canvas says why
    await connectNodes(page, 'b.py', 'a.py');
    const notice = canvas(page).locator('.jp-MLPipe-Notice');
    await expect(notice).toContainText('would create a cycle');
    await expect(notice).toContainText('b.py → a.py → b.py');
    await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(1);
    await page.screenshot({ path: `${SCREENSHOTS}/editor-cycle-refused.png` });

    // undo / redo from the toolbar
    await toolbarItem(page, 'undo').click();
    await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(0);
    await toolbarItem(page, 'redo').click();
    await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(1);

    // delete with the keyboard, undo with the keyboard
    await node(page, 'b.py').click();
    await page.keyboard.press('Delete');
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(2);
    await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(0);
    await page.keyboard.press('Control+z');
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(3);
    await expect(canvas(page).locator('.jp-MLPipe-Link')).toHaveCount(1);

    // copy and paste a node
    await node(page, 'a.py').click();
    await page.keyboard.press('Control+c');
    await page.keyboard.press('Control+v');
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(4);
    await expect(
      canvas(page).locator('.jp-MLPipe-Node[data-label="a.py"]')
    ).toHaveCount(2);

    // save, then check the file: Elyra format, relative file names
    await page.keyboard.press('Control+s');
    await expect(dirtyTab(page)).toHaveCount(0);
    const saved = JSON.parse(await readFile(page, path));
    const nodes = saved.pipelines[0].nodes;
    expect(nodes).toHaveLength(4);
    expect(
      nodes.map((n: any) => n.app_data.component_parameters.filename).sort()
    ).toEqual(['', 'a.py', 'a.py', 'b.py']);
    const b = nodes.find(
      (n: any) => n.app_data.component_parameters.filename === 'b.py'
    );
    expect(b.inputs[0].links).toHaveLength(1);

    // clear is one undoable step
    await toolbarItem(page, 'clear').click();
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(0);
    await toolbarItem(page, 'undo').click();
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(4);
  });

  test('comments, auto-layout, revert and closing with unsaved changes', async ({
    page,
    tmpPath
  }) => {
    const path = await openPipeline(
      page,
      tmpPath,
      'layout.pipeline',
      exampleWithComment(),
      ['hello.py', 'world.py']
    );
    // lay out left to right: world.py right of hello.py, on the same row
    await page.evaluate(() =>
      window.jupyterapp.commands.execute('mlpipe-lab:auto-layout')
    );
    await expect
      .poll(async () => {
        const hello = (await node(page, 'hello.py').boundingBox())!;
        const world = (await node(page, 'world.py').boundingBox())!;
        return (
          world.x > hello.x + hello.width && Math.abs(world.y - hello.y) < 5
        );
      })
      .toBe(true);
    await expect(dirtyTab(page)).toHaveCount(1);

    // a new comment attached to the selected node (canvas context menu), then typed in
    await node(page, 'world.py').click();
    await node(page, 'world.py').click({ button: 'right' });
    const menu = page.locator('.lm-Menu').last();
    await expect(
      menu.getByText('Copy Selected Nodes', { exact: true })
    ).toBeVisible();
    await menu.getByText('Add Comment', { exact: true }).click();
    const comments = canvas(page).locator('.jp-MLPipe-Comment');
    await expect(comments).toHaveCount(2);
    await expect(canvas(page).locator('.jp-MLPipe-CommentLink')).toHaveCount(2);
    await comments.nth(1).dblclick();
    const textarea = canvas(page).locator('.jp-MLPipe-Comment-editor');
    await textarea.fill('Then the world');
    await textarea.press('Escape');
    await expect(comments.nth(1)).toHaveText('Then the world');
    await page.screenshot({
      path: `${SCREENSHOTS}/editor-comments-layout.png`
    });

    // revert: back to the file on disk, clean
    await page.evaluate(() => {
      // resolves after the confirmation: do not wait for it here
      void window.jupyterapp.commands.execute('docmanager:reload');
    });
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toBeVisible();
    await dialog.getByRole('button', { name: 'Reload' }).click();
    await expect(comments).toHaveCount(1);
    await expect(dirtyTab(page)).toHaveCount(0);

    // unsaved changes: closing asks first
    await node(page, 'hello.py').click();
    await page.keyboard.press('Delete');
    await expect(dirtyTab(page)).toHaveCount(1);
    await page.evaluate(() => {
      // "Close Tab" still works after right-clicks on the canvas
      void window.jupyterapp.commands.execute('application:close');
    });
    await expect(page.locator('.jp-Dialog')).toContainText('Save changes in');
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Discard' })
      .click();
    await expect(editor(page)).toHaveCount(0);
    const saved = JSON.parse(await readFile(page, path));
    expect(saved.pipelines[0].nodes).toHaveLength(2);
    expect(saved.custom_key).toEqual({ kept: true });
  });

  test('live validation shows problems on nodes and on fields', async ({
    page,
    tmpPath
  }) => {
    await openPipeline(
      page,
      tmpPath,
      'broken.pipeline',
      emptyPipeline('broken'),
      ['solo.py']
    );
    await dragFileToCanvas(page, 'solo.py', { x: 300, y: 250 });
    const solo = node(page, 'solo.py');
    // a local run needs no runtime image: a warning (orange) that export will ask for one
    const badge = solo.locator('.jp-MLPipe-Badge-warning');
    await expect(badge).toBeVisible();
    await expect(solo.locator('.jp-MLPipe-Badge-error')).toHaveCount(0);
    await badge.hover();
    await expect(solo.locator('.jp-MLPipe-Tooltip')).toContainText(
      'runtime image'
    );
    await solo.click();
    const properties = editor(page).locator(
      '[data-testid="mlpipe-properties"]'
    );
    await expect(
      properties.locator('.jp-MLPipe-FieldWarning', {
        hasText: 'runtime image'
      })
    ).toBeVisible();
    await page.screenshot({ path: `${SCREENSHOTS}/properties-problems.png` });

    // the label edited in the form shows on the canvas, and undo covers it
    const label = properties.locator('[id$="_label"]').first();
    await label.fill('Solo step');
    await expect(node(page, 'Solo step')).toBeVisible();
    await canvas(page).click({ position: { x: 700, y: 500 } });
    await node(page, 'Solo step').click();
    await page.keyboard.press('Control+z');
    await expect(node(page, 'solo.py')).toBeVisible();

    // export refuses an invalid pipeline, in plain words, and keeps the canvas
    await page.evaluate(() => {
      void window.jupyterapp.commands.execute('mlpipe-lab:export-pipeline', {
        runtimeConfig: 'local'
      });
    });
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Export failed');
    await expect(dialog).toContainText("node 'solo.py'");
    await expect(dialog).toContainText('field Runtime image');
    await page.screenshot({ path: `${SCREENSHOTS}/export-errors.png` });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(canvas(page).locator('.jp-MLPipe-Node')).toHaveCount(1);
  });
});
