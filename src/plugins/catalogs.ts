/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { CatalogPanel, ICatalogKindInfo } from '../catalogs/panel';
import {
  componentCatalogIcon,
  runtimeConfigIcon,
  runtimeImageIcon
} from '../icons';
import {
  CommandIDs,
  ICatalogStore,
  IFormWidgetRegistry,
  MLPipeAPI,
  PluginIDs,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * Left-sidebar panels for the runtime image, runtime configuration and component catalogs.
 */
export const catalogsPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.catalogs,
  description:
    'Sidebar panels to list, search, add, edit, duplicate and delete runtime images, runtime configurations and component catalogs.',
  autoStart: true,
  requires: [ICatalogStore, IFormWidgetRegistry],
  optional: [ILayoutRestorer, ICommandPalette, ILabShell, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    catalogs: ICatalogStore,
    formWidgets: IFormWidgetRegistry,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    labShell: ILabShell | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);

    const images: ICatalogKindInfo = {
      kind: 'runtime-images',
      schema: 'runtime-image',
      title: trans.__('Runtime Images'),
      noun: trans.__('runtime image'),
      summary: entry => String((entry as MLPipeAPI.IRuntimeImage).image ?? ''),
      template: () => ({})
    };
    const configs: ICatalogKindInfo = {
      kind: 'runtime-configs',
      schema: 'runtime-config',
      title: trans.__('Runtime Configurations'),
      noun: trans.__('runtime configuration'),
      summary: entry => {
        const type = (entry as MLPipeAPI.IRuntimeConfig).type;
        return type === 'local'
          ? trans.__('Local (embedded)')
          : type === 'airflow'
            ? trans.__('Apache Airflow')
            : String(type ?? '');
      },
      template: () => ({ type: 'airflow' })
    };

    const componentSources: { [type: string]: string } = {
      'airflow-providers': trans.__('Installed Airflow providers'),
      'python-package': trans.__('Python package'),
      'local-directory-catalog': trans.__('Folders'),
      'local-file-catalog': trans.__('Files'),
      'url-catalog': trans.__('URLs'),
      'airflow-package-catalog': trans.__('Airflow wheel'),
      'airflow-provider-package-catalog': trans.__('Provider wheel'),
      'elyra-kfp-examples-catalog': trans.__("Elyra's KFP examples"),
      'elyra-airflow-examples-catalog': trans.__("Elyra's Airflow examples")
    };
    const components: ICatalogKindInfo = {
      kind: 'component-catalogs',
      schema: 'component-catalog',
      title: trans.__('Component Catalogs'),
      noun: trans.__('component catalog'),
      summary: entry => {
        const catalog = entry as MLPipeAPI.IComponentCatalog;
        const type = String(catalog.type ?? '');
        const where = [
          ...(Array.isArray(catalog.paths) ? catalog.paths : []),
          ...(Array.isArray(catalog.modules) ? catalog.modules : [])
        ].join(', ');
        return [componentSources[type] ?? type, where]
          .filter(Boolean)
          .join(': ');
      },
      template: () => ({ type: 'local-directory-catalog' })
    };

    const panels: [
      ICatalogKindInfo,
      typeof runtimeImageIcon,
      string,
      number
    ][] = [
      [images, runtimeImageIcon, CommandIDs.openRuntimeImages, 710],
      [configs, runtimeConfigIcon, CommandIDs.openRuntimeConfigs, 711],
      [components, componentCatalogIcon, CommandIDs.openComponentCatalogs, 712]
    ];
    for (const [info, icon, command, rank] of panels) {
      const panel = new CatalogPanel(info, trans, icon, {
        catalogs,
        formWidgets
      });
      panel.id = `mlpipe-lab-${info.kind}`;
      panel.title.icon = icon;
      panel.title.caption = info.title;
      app.shell.add(panel, 'left', { rank });
      restorer?.add(panel, panel.id);

      app.commands.addCommand(command, {
        label: trans.__('Show %1', info.title),
        caption: trans.__('Open the %1 catalog in the sidebar', info.title),
        icon: args => (args['isPalette'] ? undefined : icon),
        describedBy: {
          args: {
            type: 'object',
            properties: { isPalette: { type: 'boolean' } }
          }
        },
        isEnabled: () => true,
        execute: () => {
          if (labShell) {
            labShell.activateById(panel.id);
          } else {
            app.shell.activateById(panel.id);
          }
        }
      });
      palette?.addItem({
        command,
        category: trans.__('ML Pipelines'),
        args: { isPalette: true }
      });
    }
  }
};
