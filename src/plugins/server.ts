/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { countSchemas, requestAPI } from '../request';
import { MLPipeAPI, PluginIDs } from '../tokens';

/**
 * Log whether the mlpipe-lab server extension answers. Never throws.
 */
export async function checkServer(): Promise<boolean> {
  try {
    const reply = await requestAPI<MLPipeAPI.SchemasReply>('schemas');
    console.log(
      `mlpipe-lab: server extension reachable (${countSchemas(reply)} schemas)`
    );
    return true;
  } catch (error) {
    console.warn(
      'mlpipe-lab: server extension not reachable:',
      (error as Error).message ?? error
    );
    return false;
  }
}

/**
 * Checks at start-up that the server side of mlpipe-lab is installed and enabled.
 */
export const serverPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.server,
  description: 'Checks that the mlpipe-lab server extension is reachable.',
  autoStart: true,
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null
  ): void => {
    if (!settingRegistry) {
      void checkServer();
      return;
    }
    settingRegistry
      .load(PluginIDs.server)
      .then(settings => {
        let enabled = false;
        const apply = (): void => {
          const wanted = settings.get('checkOnStartup').composite !== false;
          if (wanted && !enabled) {
            // at start-up, and again whenever the user switches the check back on
            void checkServer();
          }
          enabled = wanted;
        };
        apply();
        settings.changed.connect(apply);
      })
      .catch(reason => {
        console.warn(
          `mlpipe-lab: cannot load the settings of ${PluginIDs.server}`,
          reason
        );
        void checkServer();
      });
  }
};
