/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Schedules are checked as they are typed (issue 18): the server's checker,
 * the one validation and export use, says in words when the DAG runs and
 * when next, or what is wrong ("61 25 * * *" used to land in the DAG).
 */

import { expect, test } from '@jupyterlab/galata';

import { canvas, editor, pipelineDocument, SCREENSHOTS } from './helpers';

test('the schedule field describes the schedule or says what is wrong', async ({
  page,
  tmpPath
}) => {
  const path = `${tmpPath}/nightly.pipeline`;
  // one valid node: the schedule is the only error (an empty pipeline is one too)
  await page.contents.uploadContent('print(1)\n', 'text', `${tmpPath}/load.py`);
  const load = {
    id: 'n1',
    type: 'execution_node',
    op: 'execute-python-node',
    app_data: {
      component_parameters: {
        filename: 'load.py',
        runtime_image: 'python:3.11-slim'
      },
      label: 'load.py',
      ui_data: { label: 'load.py', x_pos: 80, y_pos: 80 }
    },
    inputs: [{ id: 'inPort' }],
    outputs: [{ id: 'outPort' }]
  };
  await page.contents.uploadContent(
    pipelineDocument('nightly', [load]),
    'text',
    path
  );
  await page.filebrowser.openDirectory(tmpPath);
  await page.filebrowser.open(path);
  await expect(canvas(page)).toBeVisible();

  const properties = editor(page).locator('[data-testid="mlpipe-properties"]');
  await properties.getByRole('tab', { name: 'Pipeline' }).click();
  await properties
    .locator('[id$="-pipeline_mlpipe_start_date"]')
    .fill('2031-01-01');
  const field = properties.locator('[id$="-pipeline_mlpipe_schedule"]');
  const info = properties.locator('.jp-MLPipe-ScheduleInfo');

  await field.fill('0 3 * * 1-5');
  await expect(info).toHaveAttribute('data-state', 'ok', { timeout: 10_000 });
  await expect(info).toContainText('At 03:00 UTC, on Monday to Friday');
  // 2031-01-01 is a Wednesday
  await expect(info).toContainText(
    'Next runs (UTC): 2031-01-01 03:00, 2031-01-02 03:00, 2031-01-03 03:00'
  );
  await info.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOTS}/schedule-ok.png` });

  const refused: [string, string][] = [
    ['61 25 * * *', 'The minute must be from 0 to 59, not 61.'],
    ['@dayly', 'did you mean @daily?'],
    ['every day at 3', 'Use a preset (@hourly, @daily']
  ];
  for (const [text, message] of refused) {
    await field.fill(text);
    await expect(info).toHaveAttribute('data-state', 'error', {
      timeout: 10_000
    });
    await expect(info).toContainText(message);
  }
  // live validation marks the field with the same words, as an error
  await expect(
    properties.locator('.validationErrors', {
      hasText: 'is not a schedule. Use a preset'
    })
  ).toBeVisible({ timeout: 10_000 });
  await expect(
    editor(page).locator('.jp-MLPipe-Properties-status .jp-MLPipe-Badge-error')
  ).toHaveText('1');
  for (const theme of ['light', 'dark'] as const) {
    if (theme === 'dark') {
      await page.theme.setDarkTheme();
    }
    await page.screenshot({ path: `${SCREENSHOTS}/schedule-error-${theme}.png` });
  }
  await page.theme.setLightTheme();
});
