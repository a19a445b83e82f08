/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The catalog panels: list, search, add, edit, duplicate, delete; secrets are
 * write-only in the forms and never come back to the browser.
 */

import { expect, test } from '@jupyterlab/galata';

import { api, SCREENSHOTS } from './helpers';

const SECRET = 's3cr3t-t0ken-never-shown';

test('runtime configurations: built-in local, add with a write-only secret, edit, duplicate, search, delete', async ({
  page
}) => {
  test.setTimeout(90_000);
  const stamp = Date.now().toString(36);
  const title = `Prod Airflow ${stamp}`;

  await page.evaluate(() =>
    window.jupyterapp.commands.execute('mlpipe-lab:open-runtime-configs')
  );
  const panel = page.locator('#mlpipe-lab-runtime-configs');
  await expect(panel).toBeVisible();
  const local = panel.locator('.jp-MLPipe-Catalog-item[data-name="local"]');
  await expect(local).toContainText('built in');
  await expect(local.locator('button[data-action="delete"]')).toBeDisabled();

  // add an Airflow configuration with a git token
  await panel.locator('button[data-action="add"]').click();
  const dialog = page.locator('.jp-Dialog');
  const form = dialog.locator('.jp-MLPipe-EntryForm');
  await expect(form).toBeVisible();
  await form.locator('#mlpipe-runtime-configs_display_name').fill(title);
  await form
    .locator('#mlpipe-runtime-configs_airflow_api_endpoint')
    .fill('https://airflow.example.com');
  await form
    .locator('#mlpipe-runtime-configs_dag_repo_url')
    .fill('https://git.example.com/team/dags.git');
  await form
    .locator('#mlpipe-runtime-configs_dag_repo_auth_type')
    .selectOption({ label: 'Access token' });
  await form.locator('#mlpipe-runtime-configs_dag_repo_auth_token').fill(SECRET);
  // with object storage and a pod Secret: nothing a submit would lack (see first-hour.spec.ts)
  await form
    .locator('#mlpipe-runtime-configs_object_storage_bucket')
    .fill('team-pipelines');
  await form
    .locator('#mlpipe-runtime-configs_object_storage_pod_credentials_secret')
    .fill('team-s3');
  await expect(
    form.locator('#mlpipe-runtime-configs_dag_repo_auth_token')
  ).toHaveAttribute('type', 'password');
  await page.screenshot({ path: `${SCREENSHOTS}/catalog-config-dialog.png` });
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toHaveCount(0);
  const item = panel.locator('.jp-MLPipe-Catalog-item', { hasText: title });
  await expect(item).toContainText('Apache Airflow');
  const name = (await item.getAttribute('data-name'))!;

  // the server stores the secret apart and only ever answers with a mask
  const stored = await api(page, `catalogs/runtime-configs/${name}`);
  expect(stored.body.dag_repo.auth.token).toBe('********');
  expect(JSON.stringify(stored.body)).not.toContain(SECRET);

  // editing shows "set", never the value; saving untouched keeps it
  await item.locator('button[data-action="edit"]').click();
  await expect(form).toBeVisible();
  await expect(form.locator('.jp-MLPipe-Secret')).toContainText('Set (hidden)');
  expect(await dialog.innerHTML()).not.toContain(SECRET);
  await expect(form.locator('#mlpipe-runtime-configs_name')).toHaveAttribute(
    'readonly',
    ''
  );
  await form
    .locator('#mlpipe-runtime-configs_description')
    .fill('Production Airflow of the team');
  await page.screenshot({ path: `${SCREENSHOTS}/catalog-config-edit.png` });
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toHaveCount(0);
  const updated = await api(page, `catalogs/runtime-configs/${name}`);
  expect(updated.body.description).toBe('Production Airflow of the team');
  expect(updated.body.dag_repo.auth.token).toBe('********');

  // duplicate: a new entry without the secret (it cannot be read back)
  await item.locator('button[data-action="duplicate"]').click();
  await expect(
    form.locator('#mlpipe-runtime-configs_display_name')
  ).toHaveValue(`${title} (copy)`);
  await form.locator('#mlpipe-runtime-configs_dag_repo_auth_type').selectOption({ label: 'None (local or already configured)' });
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toHaveCount(0);
  const copy = panel.locator('.jp-MLPipe-Catalog-item', {
    hasText: `${title} (copy)`
  });
  await expect(copy).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/catalog-runtime-configs.png` });

  // search
  const search = panel.locator('.jp-MLPipe-Catalog-search');
  await search.fill(stamp);
  await expect(panel.locator('.jp-MLPipe-Catalog-item')).toHaveCount(2);
  await search.fill('no-such-config-anywhere');
  await expect(panel.locator('.jp-MLPipe-Catalog-item')).toHaveCount(0);
  await expect(panel).toContainText('Nothing matches');
  await search.fill('');

  // delete both
  for (const entry of [copy, item]) {
    await entry.locator('button[data-action="delete"]').click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect(entry).toHaveCount(0);
  }
  const list = await api(page, 'catalogs/runtime-configs');
  expect(list.body.items.map((i: any) => i.name)).not.toContain(name);
});

test('runtime images: a bad image reference is refused in plain words and the form stays open', async ({
  page
}) => {
  const stamp = Date.now().toString(36);
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('mlpipe-lab:open-runtime-images')
  );
  const panel = page.locator('#mlpipe-lab-runtime-images');
  await panel.locator('button[data-action="add"]').click();
  const dialog = page.locator('.jp-Dialog');
  await dialog
    .locator('#mlpipe-runtime-images_display_name')
    .fill(`Broken ${stamp}`);
  await dialog.locator('#mlpipe-runtime-images_image').fill('Not An Image!');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog.locator('[role="alert"]')).toContainText('image');
  await expect(dialog.locator('#mlpipe-runtime-images_image')).toHaveValue(
    'Not An Image!'
  );
  await page.screenshot({ path: `${SCREENSHOTS}/catalog-image-error.png` });
  await dialog.locator('#mlpipe-runtime-images_image').fill('python:3.12-slim');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toHaveCount(0);
  const item = panel.locator('.jp-MLPipe-Catalog-item', {
    hasText: `Broken ${stamp}`
  });
  await expect(item).toContainText('python:3.12-slim');
  await item.locator('button[data-action="delete"]').click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(item).toHaveCount(0);
});
