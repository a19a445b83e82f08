/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { MLPipeClient } from '../api';
import { COMPONENT_CATALOGS, ComponentPalette } from '../components/palette';
import {
  CommandIDs,
  ICatalogStore,
  INodeTypeRegistry,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * Palette entries for the components of the component catalogs (Airflow
 * operators, Kubeflow Pipelines components), grouped by catalog, read again
 * whenever the component catalogs change.
 */
export const componentsPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.components,
  description:
    'Palette entries for Airflow operators and Kubeflow components from the component catalogs.',
  autoStart: true,
  requires: [INodeTypeRegistry, ICatalogStore],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    nodeTypes: INodeTypeRegistry,
    catalogs: ICatalogStore,
    commandPalette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const palette = new ComponentPalette({
      nodeTypes,
      catalogs,
      trans,
      load: () => MLPipeClient.components(),
      // the label and Airflow task settings every node has
      baseSchema: () =>
        MLPipeClient.schema('node-properties', 'execute-python-node')
    });
    palette.refreshed.connect((_, problems) => {
      for (const problem of problems) {
        console.warn(`mlpipe-lab components: ${problem.message}`);
      }
    });
    let pending: Promise<unknown> = Promise.resolve();
    const refresh = () => {
      // one read at a time, in order: the last change wins
      pending = pending.then(() => palette.refresh());
      return pending;
    };
    catalogs.changed.connect((_, kind) => {
      if (kind === COMPONENT_CATALOGS) {
        void refresh();
      }
    });
    // the palette groups by the catalogs' display names: read them first
    // (reading them emits `changed`, which reads the components)
    if (catalogs.loaded(COMPONENT_CATALOGS)) {
      void refresh();
    } else {
      void catalogs.ensure(COMPONENT_CATALOGS).catch(() => refresh());
    }

    app.commands.addCommand(CommandIDs.reloadComponents, {
      label: trans.__('Reload Pipeline Components'),
      caption: trans.__(
        'Read the component catalogs again and update the palette'
      ),
      execute: () => catalogs.refresh(COMPONENT_CATALOGS).catch(() => refresh())
    });
    commandPalette?.addItem({
      command: CommandIDs.reloadComponents,
      category: trans.__('ML Pipelines')
    });
  }
};
