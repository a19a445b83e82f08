/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import {
  IDefaultFileBrowser,
  IFileBrowserFactory
} from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';

import { pipelineIcon } from '../icons';
import { createPipelineFile } from '../contents';
import { CommandIDs, PluginIDs, TRANSLATION_DOMAIN } from '../tokens';

/** Rank of the card in the launcher category and of the palette item. */
const RANK = 1;

/**
 * The "New Pipeline" command, its launcher card, palette item and
 * File › New menu item (the menu is declared in `schema/launcher.json`).
 */
export const launcherPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.launcher,
  description:
    'Adds the "New Pipeline" command to the launcher, the command palette and File › New.',
  autoStart: true,
  optional: [
    ILauncher,
    ICommandPalette,
    IFileBrowserFactory,
    IDefaultFileBrowser,
    ISettingRegistry,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    browserFactory: IFileBrowserFactory | null,
    defaultBrowser: IDefaultFileBrowser | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands, serviceManager } = app;
    const category = trans.__('ML Pipelines');

    /** The directory the user is looking at. */
    const currentDirectory = (): string =>
      browserFactory?.tracker.currentWidget?.model.path ??
      defaultBrowser?.model.path ??
      '';

    commands.addCommand(CommandIDs.createNewPipeline, {
      label: args =>
        args['isMenu'] ? trans.__('Pipeline') : trans.__('New Pipeline'),
      caption: trans.__('Create a new ML pipeline (.pipeline file)'),
      icon: args => (args['isPalette'] ? undefined : pipelineIcon),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            cwd: {
              type: 'string',
              description: trans.__(
                'Directory to create the pipeline in; defaults to the file browser directory.'
              )
            },
            isLauncher: { type: 'boolean' },
            isMenu: { type: 'boolean' },
            isPalette: { type: 'boolean' }
          }
        }
      },
      isEnabled: () => serviceManager.isReady,
      execute: async args => {
        const cwd =
          typeof args['cwd'] === 'string' ? args['cwd'] : currentDirectory();
        try {
          const created = await createPipelineFile(
            serviceManager.contents,
            cwd
          );
          await commands.execute('docmanager:open', { path: created.path });
          return created;
        } catch (error) {
          void showErrorMessage(
            trans.__('Cannot create the pipeline'),
            error as Error
          );
          return undefined;
        }
      }
    });

    palette?.addItem({
      command: CommandIDs.createNewPipeline,
      category,
      args: { isPalette: true },
      rank: RANK
    });

    if (!launcher) {
      return;
    }
    let launcherItem: IDisposable | null = null;
    const showInLauncher = (show: boolean): void => {
      if (show && !launcherItem) {
        launcherItem = launcher.add({
          command: CommandIDs.createNewPipeline,
          category,
          rank: RANK,
          args: { isLauncher: true }
        });
      } else if (!show && launcherItem) {
        launcherItem.dispose();
        launcherItem = null;
      }
    };

    if (!settingRegistry) {
      showInLauncher(true);
      return;
    }
    settingRegistry
      .load(PluginIDs.launcher)
      .then(settings => {
        const apply = (): void =>
          showInLauncher(settings.get('showInLauncher').composite !== false);
        apply();
        settings.changed.connect(apply);
      })
      .catch(reason => {
        console.warn(
          `mlpipe-lab: cannot load the settings of ${PluginIDs.launcher}`,
          reason
        );
        showInLauncher(true);
      });
  }
};
