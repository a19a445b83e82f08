/**
 * Global set-up of the galata run: load JupyterLab once in Chromium before the
 * first test. On a cold server the first page load pays for one-off work
 * (build check, settings and translation listings, lazy imports of the server
 * extension, a cold disk cache) and on a busy 2-core host that alone can pass
 * galata's fixed 15 s "application started" wait of whichever test runs first.
 */
/* global window */
const { chromium } = require('@playwright/test');

const READY_TIMEOUT = 180_000;

module.exports = async function warmup(config) {
  const use = config.projects[0].use;
  const started = Date.now();
  const browser = await chromium.launch(use.launchOptions);
  try {
    const page = await browser.newPage();
    await page.goto(`${use.baseURL}/lab`, { timeout: READY_TIMEOUT });
    await page.waitForFunction(
      async () => {
        if (typeof window.jupyterapp !== 'object') {
          return false;
        }
        await window.jupyterapp.started;
        return true;
      },
      undefined,
      { timeout: READY_TIMEOUT, polling: 200 }
    );
    console.log(
      `warm-up: JupyterLab started in ${((Date.now() - started) / 1000).toFixed(1)} s`
    );
  } finally {
    await browser.close();
  }
};
