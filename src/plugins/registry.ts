/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { CatalogStore } from '../api';
import { builtinNodeTypes } from '../editor/nodeTypes';
import { builtinFormWidgets } from '../forms/widgets';
import {
  FormWidgetRegistry,
  NodeTypeRegistry,
  SubmitFollowUps
} from '../registry';
import {
  ICatalogStore,
  IFormWidgetRegistry,
  INodeTypeRegistry,
  ISubmitFollowUps,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';

/** A node type registry holding mlpipe-lab's own node types. */
export function createNodeTypes(
  trans = nullTranslator.load(TRANSLATION_DOMAIN)
): NodeTypeRegistry {
  const nodeTypes = new NodeTypeRegistry(trans.__('Nodes'));
  for (const type of builtinNodeTypes(trans)) {
    nodeTypes.add(type);
  }
  return nodeTypes;
}

/** A form widget registry holding mlpipe-lab's own widgets. */
export function createFormWidgets(): FormWidgetRegistry {
  const formWidgets = new FormWidgetRegistry();
  for (const [name, widget] of Object.entries(builtinFormWidgets)) {
    if (widget) {
      formWidgets.add(name, widget);
    }
  }
  return formWidgets;
}

/** Node types: the palette's entries and how nodes look on the canvas. */
export const nodeTypesPlugin: JupyterFrontEndPlugin<INodeTypeRegistry> = {
  id: `${PluginIDs.registry}-node-types`,
  description:
    'The node type registry: notebook, Python, R and Serve MLflow model nodes, and any a plugin adds.',
  autoStart: true,
  provides: INodeTypeRegistry,
  optional: [ITranslator],
  activate: (app, translator: ITranslator | null) =>
    createNodeTypes((translator ?? nullTranslator).load(TRANSLATION_DOMAIN))
};

/** Form widgets, by the names schemas give in `x-mlpipe-widget`. */
export const formWidgetsPlugin: JupyterFrontEndPlugin<IFormWidgetRegistry> = {
  id: `${PluginIDs.registry}-form-widgets`,
  description:
    'The form widget registry: the widgets that schema annotations (x-mlpipe-widget) name.',
  autoStart: true,
  provides: IFormWidgetRegistry,
  activate: () => createFormWidgets()
};

/** The page's cache of the server's catalogs. */
export const catalogStorePlugin: JupyterFrontEndPlugin<ICatalogStore> = {
  id: `${PluginIDs.registry}-catalog-store`,
  description:
    "The page's cache of the server's catalogs (runtime images, runtime configurations...).",
  autoStart: true,
  provides: ICatalogStore,
  activate: () => new CatalogStore()
};

/** Next steps offered after a submit. */
export const submitFollowUpsPlugin: JupyterFrontEndPlugin<ISubmitFollowUps> = {
  id: `${PluginIDs.registry}-submit-follow-ups`,
  description:
    'The next steps offered after a pipeline was submitted (e.g. Trigger run).',
  autoStart: true,
  provides: ISubmitFollowUps,
  activate: () => new SubmitFollowUps()
};

/** Every registry plugin. */
export const registryPlugins = [
  nodeTypesPlugin,
  formWidgetsPlugin,
  catalogStorePlugin,
  submitFollowUpsPlugin
];
