/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Helpers shared by the mlpipe-lab galata tests: real user gestures (Lumino
 * drags from the file browser, links between ports) and REST calls.
 */

import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { expect } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

export const SCREENSHOTS = 'screenshots';

/** The editor of the pipeline in the current tab. */
export function editor(page: IJupyterLabPageFixture): Locator {
  return page.locator('.jp-MLPipe-EditorWidget:visible');
}

/** The canvas of the current editor. */
export function canvas(page: IJupyterLabPageFixture): Locator {
  return editor(page).locator('[data-testid="mlpipe-canvas"]');
}

/** A node on the canvas, by its label. */
export function node(page: IJupyterLabPageFixture, label: string): Locator {
  return canvas(page).locator('.react-flow__node', {
    has: page.locator(`.jp-MLPipe-Node[data-label="${label}"]`)
  });
}

/** A toolbar item of the current editor, by its name in the toolbar settings. */
export function toolbarItem(page: IJupyterLabPageFixture, name: string): Locator {
  return editor(page).locator(`.jp-Toolbar-item[data-jp-item-name="${name}"]`);
}

/**
 * An Elyra-format pipeline document (text, as saved): ``nodes`` as given, and
 * ``mlpipe`` settings (pipeline parameters, ...) when there are any.
 */
export function pipelineDocument(
  name: string,
  nodes: object[] = [],
  mlpipe?: object
): string {
  return (
    JSON.stringify(
      {
        doc_type: 'pipeline',
        version: '3.0',
        json_schema:
          'http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json',
        id: 'elyra-auto-generated-pipeline',
        primary_pipeline: 'primary',
        pipelines: [
          {
            id: 'primary',
            nodes,
            app_data: {
              ui_data: { comments: [] },
              ...(mlpipe ? { mlpipe } : {}),
              version: 8,
              runtime_type: 'APACHE_AIRFLOW',
              properties: {
                name,
                runtime: 'Apache Airflow',
                pipeline_defaults: {}
              }
            },
            runtime_ref: ''
          }
        ],
        schemas: []
      },
      null,
      2
    ) + '\n'
  );
}

/** A minimal empty pipeline document. */
export function emptyPipeline(name: string): string {
  return pipelineDocument(name);
}

/**
 * Drag a file from the file browser onto the canvas with the mouse, the way a
 * user does (JupyterLab's file browser starts a Lumino drag).
 */
export async function dragFileToCanvas(
  page: IJupyterLabPageFixture,
  fileName: string,
  at: { x: number; y: number }
): Promise<void> {
  const item = page.locator('.jp-DirListing-item', {
    has: page.locator('.jp-DirListing-itemText', {
      hasText: new RegExp(`^${fileName.replace('.', '\\.')}$`)
    })
  });
  await expect(item).toBeVisible();
  const from = (await item.boundingBox())!;
  const target = (await canvas(page).boundingBox())!;
  await page.mouse.move(from.x + 40, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + 60, from.y + from.height / 2 + 10, {
    steps: 4
  });
  await page.mouse.move(target.x + at.x, target.y + at.y, { steps: 12 });
  await page.mouse.up();
}

/** The bounding box of a locator once it stopped moving (fit view, layout...). */
async function settledBox(locator: Locator) {
  let previous = await locator.boundingBox();
  for (let i = 0; i < 20; i++) {
    await locator.page().waitForTimeout(100);
    const current = await locator.boundingBox();
    if (
      previous &&
      current &&
      Math.abs(previous.x - current.x) < 0.5 &&
      Math.abs(previous.y - current.y) < 0.5
    ) {
      return current;
    }
    previous = current;
  }
  return previous!;
}

/**
 * Drag from the output port of one node to the input port of another, like a
 * user: press on the port, move over the other port, release. Tries a second
 * time if the first gesture did not make a link (the port of a node dropped a
 * moment ago may not be measured yet).
 */
export async function connectNodes(
  page: IJupyterLabPageFixture,
  source: string,
  target: string
): Promise<void> {
  const edges = canvas(page).locator('.jp-MLPipe-Link');
  const before = await edges.count();
  for (let attempt = 0; attempt < 2; attempt++) {
    const out = node(page, source).locator('.react-flow__handle.source');
    const into = node(page, target).locator('.react-flow__handle.target');
    await expect(out).toBeVisible();
    await expect(into).toBeVisible();
    const a = await settledBox(out);
    const b = await settledBox(into);
    await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
    await page.mouse.down();
    await page.mouse.move(b.x - 20, b.y + b.height / 2, { steps: 8 });
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 4 });
    await page.mouse.up();
    const linked = await expect
      .poll(() => edges.count(), { timeout: 2000 })
      .toBeGreaterThan(before)
      .then(() => true)
      .catch(() => false);
    if (linked || (await canvas(page).locator('.jp-MLPipe-Notice').count())) {
      return;
    }
  }
}

/** Call the mlpipe-lab REST API from the page (same session as the UI). */
export async function api<T = any>(
  page: IJupyterLabPageFixture,
  endPoint: string,
  init: { method?: string; body?: unknown } = {}
): Promise<{ status: number; body: T }> {
  const response = await page.request.fetch(`/mlpipe-lab/${endPoint}`, {
    method: init.method ?? 'GET',
    data: init.body === undefined ? undefined : JSON.stringify(init.body),
    headers: { 'Content-Type': 'application/json' }
  });
  const text = await response.text();
  return { status: response.status(), body: text ? JSON.parse(text) : null };
}

/** The text of a file, through the contents API. */
export async function readFile(
  page: IJupyterLabPageFixture,
  path: string
): Promise<string> {
  return page.evaluate(async path => {
    const model = await window.jupyterapp.serviceManager.contents.get(path, {
      type: 'file',
      format: 'text',
      content: true
    });
    return model.content as string;
  }, path);
}
