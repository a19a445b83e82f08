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

import { approvalIcon, branchIcon } from '../icons';
import {
  APPROVAL_OP,
  BRANCH_OP,
  readRules,
  readValueFrom
} from '../model/controlFlow';
import { isObject, serveModelRef, SERVE_OP } from '../model/elyra';
import type { IElyraNode } from '../model/elyra';
import type { INodeType, INodeTypeRegistry } from '../tokens';

/** The node types mlpipe-lab itself offers (added to the registry by its plugin). */
export function builtinNodeTypes(trans: TranslationBundle): INodeType[] {
  return [
    {
      op: 'execute-notebook-node',
      title: trans.__('Notebook'),
      description: trans.__('Run a notebook (.ipynb) in the runtime image'),
      icon: notebookIcon,
      extensions: ['.ipynb'],
      rank: 10
    },
    {
      op: 'execute-python-node',
      title: trans.__('Python script'),
      description: trans.__('Run a Python script (.py) in the runtime image'),
      icon: pythonIcon,
      extensions: ['.py'],
      rank: 20
    },
    {
      op: 'execute-r-node',
      title: trans.__('R script'),
      description: trans.__('Run an R script (.r) in the runtime image'),
      icon: rKernelIcon,
      extensions: ['.r'],
      rank: 30
    },
    {
      op: SERVE_OP,
      title: trans.__('Serve MLflow model'),
      description: trans.__(
        'Build, deploy, wait for and smoke-test a registered MLflow model'
      ),
      icon: launchIcon,
      runsFile: false,
      rank: 40,
      subtitle: node => serveModelRef(node)
    },
    {
      op: BRANCH_OP,
      title: trans.__('Branch'),
      description: trans.__(
        'Run only some of the nodes linked after it, chosen by rules on a parameter or an earlier result'
      ),
      icon: branchIcon,
      category: trans.__('Control flow'),
      runsFile: false,
      rank: 10,
      subtitle: node => branchSubtitle(node, trans)
    },
    {
      op: APPROVAL_OP,
      title: trans.__('Approval gate'),
      description: trans.__(
        'Wait for a person to approve before the nodes after it run'
      ),
      icon: approvalIcon,
      category: trans.__('Control flow'),
      runsFile: false,
      rank: 20,
      subtitle: node => {
        const message = node.app_data?.component_parameters?.message;
        return typeof message === 'string' && message
          ? message
          : trans.__('no message yet');
      }
    }
  ];
}

/** What a branch node tests, under its label: "on mode · 2 rules". */
function branchSubtitle(node: IElyraNode, trans: TranslationBundle): string {
  const params = node.app_data?.component_parameters;
  if (!isObject(params)) {
    return trans.__('no rules yet');
  }
  const value = readValueFrom(params.value_from);
  const rules = readRules(params.rules).length;
  const on =
    value?.from === 'parameter' && value.parameter
      ? trans.__('on %1', value.parameter)
      : value?.from === 'result'
        ? trans.__('on a result')
        : '';
  const count = rules
    ? trans._n('%1 rule', '%1 rules', rules)
    : trans.__('no rules yet');
  return on ? `${on} · ${count}` : count;
}

/** The icon of a node type (a plain file icon for unknown types). */
export function nodeIcon(
  registry: INodeTypeRegistry,
  op: string | undefined
): LabIcon {
  return registry.get(op)?.icon ?? fileIcon;
}

/** The node type of a file, by the registry's extensions, or null. */
export function opForFile(
  registry: INodeTypeRegistry,
  path: string
): string | null {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const type = registry.forPath(name);
  // a file named only ".py" is no script
  return type &&
    !(type.extensions ?? []).some(e => e.toLowerCase() === name.toLowerCase())
    ? type.op
    : null;
}

/** MIME type of a node type dragged from the palette (HTML5 drag and drop). */
export const PALETTE_MIME = 'application/x-mlpipe-node-type';

/** MIME type of file paths dragged with HTML5 drag and drop (JSON list of paths from the server root). */
export const PATHS_MIME = 'application/x-mlpipe-paths';

/** MIME type of the file browser's Lumino drags (a list of paths). */
export const CONTENTS_MIME = 'application/x-jupyter-icontents';
