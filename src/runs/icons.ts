/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { LabIcon } from '@jupyterlab/ui-components';

/**
 * A play triangle beside three list lines: the Runs panel. Shapes carry
 * `jp-icon3` so the theme recolours them (light and dark).
 */
const runsSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" data-icon="mlpipe-lab-runs">
  <g class="jp-icon3" fill="#616161">
    <path d="M2 4.5v9l7-4.5-7-4.5z"/>
    <rect x="11" y="5" width="11" height="2" rx="1"/>
    <rect x="11" y="11" width="11" height="2" rx="1"/>
    <rect x="2" y="17" width="20" height="2" rx="1"/>
  </g>
</svg>`;

/** The Runs panel. */
export const runsIcon = new LabIcon({
  name: 'mlpipe-lab:runs',
  svgstr: runsSvg
});
