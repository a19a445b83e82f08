/**
 * Playwright configuration of the mlpipe-lab galata tests: Debian's Chromium,
 * no video (it needs Playwright's own ffmpeg download), one worker (port 8888 is fixed).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const HOST = process.env.JLAB_TEST_HOST || '127.0.0.1';
// galata's configure_jupyter_server fixes 8888 (port_retries = 0); MLPIPE_GALATA_PORT moves it
// (jupyter_server_test_config.py reads it too), so two checkouts can run their specs at once
const PORT = Number(process.env.MLPIPE_GALATA_PORT || 8888);

module.exports = {
  ...baseConfig,
  reporter: [['list'], ['html', { open: 'never' }]],
  workers: 1,
  globalSetup: require.resolve('./warmup.js'),
  // one retry on CI absorbs a host hiccup; Playwright still reports the test as flaky
  retries: process.env.CI ? 1 : 0,
  use: {
    ...baseConfig.use,
    baseURL: `http://${HOST}:${PORT}`,
    video: 'off', // galata's default needs Playwright's own ffmpeg download
    viewport: { width: 1440, height: 900 },
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--no-default-browser-check'
      ]
    }
  },
  webServer: {
    command: 'jlpm start', // jupyter lab --config jupyter_server_test_config.py
    url: `http://${HOST}:${PORT}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI,
    stdout: 'pipe',
    stderr: 'pipe'
  }
};
