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

/** A container image (a box with a lid): the runtime image catalog. */
const runtimeImageSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" data-icon="mlpipe-lab-runtime-images">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2 3 6.5v11L12 22l9-4.5v-11L12 2zm0 2.2 6.6 3.3L12 10.8 5.4 7.5 12 4.2zM5 9.1l6 3v7.6l-6-3V9.1zm8 10.6v-7.6l6-3v7.6l-6 3z"/>
  </g>
</svg>`;

/** The runtime image catalog panel. */
export const runtimeImageIcon = new LabIcon({
  name: 'mlpipe-lab:runtime-images',
  svgstr: runtimeImageSvg
});

/** A server rack: the runtime configuration catalog. */
const runtimeConfigSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" data-icon="mlpipe-lab-runtime-configs">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h18v7H3V3zm2 2v3h14V5H5zm-2 9h18v7H3v-7zm2 2v3h14v-3H5z"/>
    <rect x="6" y="5.75" width="2" height="1.5"/>
    <rect x="6" y="16.75" width="2" height="1.5"/>
  </g>
</svg>`;

/** The runtime configuration catalog panel. */
export const runtimeConfigIcon = new LabIcon({
  name: 'mlpipe-lab:runtime-configs',
  svgstr: runtimeConfigSvg
});

/** Building blocks (a grid of four boxes, one lifted): the component catalogs. */
const componentCatalogSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" data-icon="mlpipe-lab-component-catalogs">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="12" width="9" height="9" rx="1.5"/>
    <rect x="13" y="12" width="9" height="9" rx="1.5"/>
    <rect x="2" y="2" width="9" height="8" rx="1.5"/>
    <path d="M17.5 1.5 23 7l-5.5 5.5L12 7l5.5-5.5zm0 2.8L14.8 7l2.7 2.7L20.2 7l-2.7-2.7z"/>
  </g>
</svg>`;

/** The component catalog panel (Airflow operators, Kubeflow components). */
export const componentCatalogIcon = new LabIcon({
  name: 'mlpipe-lab:component-catalogs',
  svgstr: componentCatalogSvg
});

/** A path that splits in two (a diamond with two ways out): the branch node. */
const branchSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" data-icon="mlpipe-lab-branch">
  <g class="jp-icon3" fill="#616161">
    <path d="M8 12 3 7l5-5 5 5-5 5zm0-2.8L10.2 7 8 4.8 5.8 7 8 9.2z"/>
    <rect x="12" y="6.25" width="5" height="1.5"/>
    <rect x="7.25" y="11" width="1.5" height="6"/>
    <rect x="7.25" y="16.25" width="9.75" height="1.5"/>
    <path d="M17 3.5 21.5 7 17 10.5v-7zm0 10L21.5 17 17 20.5v-7z"/>
  </g>
</svg>`;

/** The branch node (control flow). */
export const branchIcon = new LabIcon({
  name: 'mlpipe-lab:branch',
  svgstr: branchSvg
});

/** A gate with a tick (a person lets the run through): the approval gate. */
const approvalSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" data-icon="mlpipe-lab-approval">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="3" width="2" height="18"/>
    <rect x="20" y="3" width="2" height="18"/>
    <path d="M10.2 16.6 6.1 12.5l1.4-1.4 2.7 2.7 6.3-6.3 1.4 1.4-7.7 7.7z"/>
  </g>
</svg>`;

/** The approval gate node (control flow). */
export const approvalIcon = new LabIcon({
  name: 'mlpipe-lab:approval',
  svgstr: approvalSvg
});
