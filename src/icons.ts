/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { LabIcon } from '@jupyterlab/ui-components';

/**
 * Two source nodes joined into one target node. Every shape carries `jp-icon3`
 * so the theme recolours it (light and dark).
 */
const pipelineSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" data-icon="mlpipe-lab-pipeline">
  <g class="jp-icon3" fill="#616161">
    <rect x="1" y="2" width="8" height="6" rx="1.5"/>
    <rect x="1" y="16" width="8" height="6" rx="1.5"/>
    <rect x="15" y="9" width="8" height="6" rx="1.5"/>
    <rect x="9" y="4.25" width="3.75" height="1.5"/>
    <rect x="9" y="18.25" width="3.75" height="1.5"/>
    <rect x="11.25" y="4.25" width="1.5" height="15.5"/>
    <rect x="12" y="11.25" width="3" height="1.5"/>
  </g>
</svg>`;

/** The icon of `.pipeline` files and of the "New Pipeline" command. */
export const pipelineIcon = new LabIcon({
  name: 'mlpipe-lab:pipeline',
  svgstr: pipelineSvg
});
