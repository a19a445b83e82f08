/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Browser half of `benchmarks/browser.py`: drives real Chromium (Playwright)
 * against a running JupyterLab and prints one JSON line of measurements.
 *
 * Input (argv[2], JSON): { url, chromium, runs, dragMs, pipelines: [{ path, nodes }] }
 *
 * Per pipeline and run, in a fresh page:
 * - open_ms: from the open command (in the page) until every node of the
 *   pipeline is in the DOM and visible (React Flow hides a node until it has a size);
 * - interactive_ms: from the open command until a click on the middle node has
 *   selected it and the properties panel shows that node (the click is sent as
 *   soon as the nodes show, so this includes one real input round trip);
 * - fps: animation frames per second while the mouse drags one node for `dragMs`,
 *   counted with requestAnimationFrame in the page; p95_frame_ms alongside.
 */

const fs = require('fs');
const { chromium } = require('@playwright/test');

async function measureOnce(browser, config, pipeline) {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 }
  });
  const page = await context.newPage();
  try {
    await page.goto(`${config.url}/lab?reset`);
    await page.waitForFunction(
      () =>
        window.jupyterapp &&
        window.jupyterapp.commands.hasCommand('mlpipe-lab:paste'),
      null,
      { timeout: 120000 }
    );
    // let the start-up settle (file browser, settings) before timing
    await page.waitForTimeout(1000);
    // a stylesheet to try on the page (MLPIPE_BENCH_CSS), to measure a style
    // change without rebuilding the extension
    if (process.env.MLPIPE_BENCH_CSS) {
      await page.addStyleTag({ content: process.env.MLPIPE_BENCH_CSS });
    }

    const expected = pipeline.nodes;
    await browser.startTracing(page, { categories: TRACE });
    await page.evaluate(
      ({ path, expected }) => {
        const state = { t0: performance.now(), shown: 0, selected: 0 };
        window.__mlpipeBench = state;
        // poll every frame: "shown" once all nodes are in the DOM and measured
        const poll = () => {
          const nodes = document.querySelectorAll(
            '.jp-MLPipe-EditorWidget:not(.lm-mod-hidden) .react-flow__node-pipelineNode'
          );
          let visible = 0;
          for (const node of nodes) {
            if (node.style.visibility !== 'hidden') {
              visible++;
            }
          }
          if (visible >= expected) {
            state.shown = performance.now();
            // the node nearest the middle of the canvas: clear of the palette,
            // minimap and controls at any zoom
            const pane = nodes[0]
              .closest('.react-flow')
              .getBoundingClientRect();
            const mx = pane.x + pane.width / 2;
            const my = pane.y + pane.height / 2;
            let best = null;
            let bestDistance = Infinity;
            for (const node of nodes) {
              const r = node.getBoundingClientRect();
              const d =
                (r.x + r.width / 2 - mx) ** 2 + (r.y + r.height / 2 - my) ** 2;
              if (d < bestDistance) {
                best = node;
                bestDistance = d;
              }
            }
            state.firstId = best.getAttribute('data-id');
            const box = best.getBoundingClientRect();
            state.firstBox = {
              x: box.x,
              y: box.y,
              w: box.width,
              h: box.height
            };
            return;
          }
          requestAnimationFrame(poll);
        };
        requestAnimationFrame(poll);
        void window.jupyterapp.commands.execute('docmanager:open', {
          path,
          factory: 'MLPipe Pipeline Editor'
        });
      },
      { path: pipeline.path, expected }
    );
    await page.waitForFunction(() => window.__mlpipeBench.shown > 0, null, {
      timeout: 120000,
      polling: 20
    });
    const shown = await page.evaluate(() => window.__mlpipeBench);
    // watch for the click's effect, then click the first node's label
    await page.evaluate(id => {
      const state = window.__mlpipeBench;
      const done = () =>
        document.querySelector(
          `.react-flow__node[data-id="${id}"] .jp-MLPipe-Node.jp-mod-selected`
        ) &&
        document.querySelector(
          `.jp-MLPipe-Properties-node[data-node-id="${id}"]`
        );
      window.addEventListener(
        'mousedown',
        () => {
          state.down = state.down || performance.now();
        },
        { capture: true }
      );
      const observer = new MutationObserver(() => {
        if (!state.selected && done()) {
          state.selected = performance.now();
          observer.disconnect();
        }
      });
      observer.observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ['class', 'data-node-id']
      });
    }, shown.firstId);
    const box = shown.firstBox;
    await page.mouse.click(box.x + box.w / 2, box.y + box.h / 2);
    await page.waitForFunction(() => window.__mlpipeBench.selected > 0, null, {
      timeout: 60000,
      polling: 20
    });
    const state = await page.evaluate(() => window.__mlpipeBench);
    const openTraceText = (await browser.stopTracing()).toString();
    if (config.profile) {
      fs.writeFileSync(
        `${config.profile}/open-${pipeline.nodes}.json`,
        openTraceText
      );
    }
    const openCpu = mainThreadCpuMs(JSON.parse(openTraceText));

    // drag the selected node in circles while counting frames. The button
    // goes down and up through Playwright (real input); the moves in between
    // are dispatched in the page every 16 ms, so their rate does not depend on
    // the round trips of the automation protocol (~80 ms each on a loaded host).
    const cx = box.x + box.w / 2;
    const cy = box.y + box.h / 2;
    const where = () =>
      page.evaluate(
        id =>
          document.querySelector(`.react-flow__node[data-id="${id}"]`).style
            .transform,
        shown.firstId
      );
    const before = await where();
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    await page.mouse.move(cx + 5, cy + 5);
    const cdp = config.profile ? await context.newCDPSession(page) : null;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    await browser.startTracing(page, { categories: TRACE });
    const drag = await page.evaluate(
      ({ cx, cy, ms }) =>
        new Promise(resolve => {
          const frames = [];
          let moves = 0;
          let stop = false;
          const tick = t => {
            frames.push(t);
            if (!stop) {
              requestAnimationFrame(tick);
            }
          };
          requestAnimationFrame(tick);
          const start = performance.now();
          const timer = setInterval(() => {
            const angle = (moves++ / 30) * 2 * Math.PI;
            const init = {
              bubbles: true,
              cancelable: true,
              view: window,
              buttons: 1,
              clientX: cx + 60 + 60 * Math.cos(angle),
              clientY: cy + 60 * Math.sin(angle)
            };
            // to the document: React Flow's drag listens on the window
            document.dispatchEvent(new MouseEvent('mousemove', init));
            if (performance.now() - start >= ms) {
              clearInterval(timer);
              stop = true;
              resolve({ frames, moves });
            }
          }, 16);
        }),
      { cx, cy, ms: config.dragMs }
    );
    if (cdp) {
      const { profile } = await cdp.send('Profiler.stop');
      process.stderr.write(hotspots(profile));
      await page.screenshot({
        path: `${config.profile}/drag-${pipeline.nodes}.png`
      });
    }
    const dragTraceText = (await browser.stopTracing()).toString();
    if (config.profile) {
      fs.writeFileSync(
        `${config.profile}/drag-${pipeline.nodes}.json`,
        dragTraceText
      );
    }
    const dragTrace = JSON.parse(dragTraceText);
    if (cdp) {
      process.stderr.write(timeline(dragTrace));
    }
    const frames = drag.frames;
    const i = drag.moves;
    await page.mouse.up();
    if ((await where()) === before) {
      throw new Error('the drag did not move the node');
    }
    const gaps = [];
    for (let k = 1; k < frames.length; k++) {
      gaps.push(frames[k] - frames[k - 1]);
    }
    gaps.sort((a, b) => a - b);
    const span = frames[frames.length - 1] - frames[0];
    return {
      open_ms: state.shown - state.t0,
      interactive_ms: state.selected - state.t0,
      click_ms: state.selected - state.down,
      fps: span > 0 ? ((frames.length - 1) * 1000) / span : 0,
      p95_frame_ms: gaps.length ? gaps[Math.floor(gaps.length * 0.95)] : 0,
      moves: i,
      // load-independent: main-thread CPU to open and select, and per drag move
      open_cpu_ms: openCpu,
      drag_cpu_ms_per_move: i ? mainThreadCpuMs(dragTrace) / i : 0
    };
  } finally {
    await context.close();
  }
}

/** The functions with the most self time in a CPU profile (for --profile). */
function hotspots(profile, top = 25) {
  const self = new Map();
  const dt = new Map();
  profile.samples.forEach((id, i) => {
    dt.set(id, (dt.get(id) || 0) + (profile.timeDeltas[i] || 0));
  });
  for (const node of profile.nodes) {
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
    self.set(key, (self.get(key) || 0) + (dt.get(node.id) || 0));
  }
  // inclusive time too: a function's own samples plus its callees'
  const byId = new Map(profile.nodes.map(n => [n.id, n]));
  const parent = new Map();
  for (const node of profile.nodes) {
    for (const child of node.children || []) {
      parent.set(child, node.id);
    }
  }
  const inclusive = new Map();
  for (const [id, us] of dt) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at).callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
      if (!seen.has(key)) {
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) || 0) + us);
      }
    }
  }
  const incl = [...inclusive.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 60)
    .map(([key, us]) => `${(us / 1000).toFixed(0).padStart(6)} ms incl ${key}`)
    .join('\n');
  process.stderr.write(incl + '\n');
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return (
    [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([key, us]) =>
          `${(us / 1000).toFixed(0).padStart(6)} ms ${((100 * us) / total).toFixed(1).padStart(5)}% ${key}`
      )
      .join('\n') + '\n'
  );
}

/**
 * CPU time (thread time, so a loaded host does not inflate it) of the page's
 * main thread in a trace: the sum over its top-level tasks.
 */
function mainThreadCpuMs(trace) {
  const main = new Set();
  for (const e of trace.traceEvents) {
    if (
      e.ph === 'M' &&
      e.name === 'thread_name' &&
      e.args.name === 'CrRendererMain'
    ) {
      main.add(`${e.pid}:${e.tid}`);
    }
  }
  let us = 0;
  for (const e of trace.traceEvents) {
    if (e.ph === 'X' && e.name === 'RunTask' && main.has(`${e.pid}:${e.tid}`)) {
      us += e.tdur || 0;
    }
  }
  return us / 1000;
}

// what DevTools' performance panel records (RunTask is in the disabled-by-default one)
const TRACE = ['devtools.timeline', 'disabled-by-default-devtools.timeline'];

/** Time per trace event name on the page's threads (for --profile): where "(program)" goes. */
function timeline(trace, top = 20) {
  const threads = new Map();
  for (const e of trace.traceEvents) {
    if (e.ph === 'M' && e.name === 'thread_name') {
      threads.set(`${e.pid}:${e.tid}`, e.args.name);
    }
  }
  const sums = new Map();
  for (const e of trace.traceEvents) {
    if (e.ph !== 'X' || !e.dur) {
      continue;
    }
    const thread = threads.get(`${e.pid}:${e.tid}`) || '?';
    const key = `${thread} ${e.name}`;
    sums.set(key, (sums.get(key) || 0) + e.dur);
  }
  return (
    [...sums.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => `${(us / 1000).toFixed(0).padStart(6)} ms ${key}`)
      .join('\n') + '\n'
  );
}

async function main() {
  const config = JSON.parse(process.argv[2]);
  const browser = await chromium.launch({
    executablePath: config.chromium,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run'
    ]
  });
  const results = [];
  try {
    for (const pipeline of config.pipelines) {
      for (let run = 0; run < config.runs; run++) {
        const result = await measureOnce(browser, config, pipeline);
        results.push({ nodes: pipeline.nodes, run, ...result });
        process.stderr.write(
          `${pipeline.nodes} nodes, run ${run + 1}: ${JSON.stringify(result)}\n`
        );
      }
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(results) + '\n');
}

main().catch(error => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
