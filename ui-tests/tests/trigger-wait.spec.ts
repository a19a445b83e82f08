/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Errors at once (issue 18): "Trigger run" after a submit waits for Airflow
 * to import the DAG. Against an Airflow nobody answers, the notification used
 * to say "Waiting … (0 s)" for the whole import timeout; now it shows the
 * first error at once, keeps trying with a moving counter, has the full
 * message behind "Details", and stops when asked.
 */

import { expect, test } from '@jupyterlab/galata';

import { api, SCREENSHOTS } from './helpers';

test('trigger after submit: an unreachable Airflow is said at once, retried visibly, stoppable', async ({
  page
}) => {
  test.setTimeout(120_000);
  const name = `down-${Date.now().toString(36)}`;
  const created = await api(page, 'catalogs/runtime-configs', {
    method: 'POST',
    body: {
      name,
      display_name: 'Airflow that is down',
      type: 'airflow',
      airflow: { api_endpoint: 'http://127.0.0.1:9' },
      dag_repo: { url: 'https://git.example.invalid/team/dags.git' }
    }
  });
  expect(created.status, JSON.stringify(created.body)).toBeLessThan(300);
  try {
    // what the "Trigger run" button of the "Pipeline submitted" dialog runs
    await page.evaluate(
      config => {
        void window.jupyterapp.commands.execute('mlpipe-lab:trigger-run', {
          runtimeConfig: config,
          dagId: 'hello_world',
          commit: '0123456789abcdef0123456789abcdef01234567'
        });
      },
      name
    );
    const dialog = page.locator('.jp-Dialog');
    await dialog.getByRole('button', { name: 'Trigger' }).click();

    const toast = page.locator('.Toastify__toast', {
      hasText: 'trying again'
    });
    // the first failed check is shown at once, not after the import timeout
    await expect(toast).toBeVisible({ timeout: 15_000 });
    await expect(toast).toContainText(/failed 1×|failed 2×/);
    await expect(toast).toContainText(/airflow/i);
    const counter = async () =>
      Number(/^(\d+) s/.exec((await toast.textContent()) ?? '')?.[1] ?? -1);
    const first = await counter();
    // the counter moves while it keeps trying
    await expect.poll(counter, { timeout: 10_000 }).toBeGreaterThan(first);
    for (const theme of ['light', 'dark'] as const) {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      await page.screenshot({
        path: `${SCREENSHOTS}/trigger-airflow-down-${theme}.png`
      });
    }
    await page.theme.setLightTheme();
    // the whole message, in words
    await toast.getByRole('button', { name: 'Details' }).click();
    await expect(dialog).toContainText('Airflow cannot be checked yet');
    await expect(dialog).toContainText('keeps trying');
    await expect(dialog).not.toContainText('Traceback');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await toast.getByRole('button', { name: 'Stop waiting' }).click();
    await expect(toast).toHaveCount(0);
    // stopped: no other dialog follows
    await page.waitForTimeout(1000);
    await expect(dialog).toHaveCount(0);
  } finally {
    await api(page, `catalogs/runtime-configs/${name}`, { method: 'DELETE' });
  }
});
