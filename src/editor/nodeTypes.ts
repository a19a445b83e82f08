/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import {
  fileIcon,
  LabIcon,
  launchIcon,
  notebookIcon,
  pythonIcon,
  rKernelIcon
} from '@jupyterlab/ui-components';

import { PALETTE_OPS, PaletteOp, SERVE_OP } from '../model/elyra';

/** How a node type looks in the palette and on the canvas. */
export interface INodeTypeInfo {
  op: PaletteOp;
  title: string;
  icon: LabIcon;
  extensions: string[];
}

/** The palette's node types, with translated titles. */
export function nodeTypes(trans: TranslationBundle): INodeTypeInfo[] {
  const titles: { [op in PaletteOp]: string } = {
    'execute-notebook-node': trans.__('Notebook'),
    'execute-python-node': trans.__('Python script'),
    'execute-r-node': trans.__('R script'),
    [SERVE_OP]: trans.__('Serve MLflow model')
  };
  const icons: { [op in PaletteOp]: LabIcon } = {
    'execute-notebook-node': notebookIcon,
    'execute-python-node': pythonIcon,
    'execute-r-node': rKernelIcon,
    [SERVE_OP]: launchIcon
  };
  const extensions: { [op in PaletteOp]: string[] } = {
    'execute-notebook-node': ['.ipynb'],
    'execute-python-node': ['.py'],
    'execute-r-node': ['.r', '.R'],
    [SERVE_OP]: []
  };
  return PALETTE_OPS.map(op => ({
    op,
    title: titles[op],
    icon: icons[op],
    extensions: extensions[op]
  }));
}

/** The icon of a node type (a plain file icon for unknown types). */
export function nodeIcon(op: string | undefined): LabIcon {
  switch (op) {
    case 'execute-notebook-node':
      return notebookIcon;
    case 'execute-python-node':
      return pythonIcon;
    case 'execute-r-node':
      return rKernelIcon;
    case SERVE_OP:
      return launchIcon;
    default:
      return fileIcon;
  }
}

/** MIME type of a node type dragged from the palette (HTML5 drag and drop). */
export const PALETTE_MIME = 'application/x-mlpipe-node-type';

/** MIME type of file paths dragged with HTML5 drag and drop (JSON list of paths from the server root). */
export const PATHS_MIME = 'application/x-mlpipe-paths';

/** MIME type of the file browser's Lumino drags (a list of paths). */
export const CONTENTS_MIME = 'application/x-jupyter-icontents';
