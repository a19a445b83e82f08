/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { nullTranslator } from '@jupyterlab/translation';

import { CatalogStore } from '../api';
import {
  catalogFormSchema,
  entryPayload,
  ICatalogKindInfo
} from '../catalogs/panel';
import {
  argumentFieldSchema,
  catalogTitle,
  ComponentPalette,
  componentNodeSchema
} from '../components/palette';
import { argumentText, parseArgument } from '../forms/widgets';
import { nodeFormSchema } from '../editor/properties';
import { problemsToErrorSchema } from '../forms/patch';
import { createNode } from '../model/elyra';
import { createNodeTypes } from '../plugins/registry';
import { MLPipeAPI } from '../tokens';
import { served } from './served';

const trans = nullTranslator.load('mlpipe_lab');

/** A component as `GET /mlpipe-lab/components` lists it. */
const bash: MLPipeAPI.IComponent = {
  id: 'team-ops:bash_operator.py:BashOperator',
  label: 'BashOperator',
  description: 'Execute a Bash script, command or set of commands.',
  catalog: 'team-ops',
  kind: 'airflow-operator',
  schema: {
    type: 'object',
    required: ['bash_command'],
    properties: {
      bash_command: {
        type: 'string',
        title: 'bash_command',
        description: 'The command to run.',
        'x-mlpipe-widget': 'textarea'
      },
      env: { type: 'object', title: 'env' },
      retries_hint: { type: 'integer', default: 3 }
    }
  }
};
const download: MLPipeAPI.IComponent = {
  id: 'kfp-examples:download_data.yaml',
  label: 'Download data',
  catalog: 'kfp-examples',
  kind: 'kfp-component',
  schema: { type: 'object', properties: { url: { type: 'string' } } }
};

/** A catalog store that reads `entries` (no server). */
function storeWith(entries: MLPipeAPI.ICatalogEntry[]): CatalogStore {
  const store = new CatalogStore();
  (store as any)._items.set('component-catalogs', entries);
  return store;
}

describe('component palette', () => {
  const base = served('node-properties', '/$defs/execute-python-node');

  it('lists components grouped by catalog after the built-in nodes', async () => {
    const nodeTypes = createNodeTypes();
    const palette = new ComponentPalette({
      nodeTypes,
      catalogs: storeWith([
        { name: 'team-ops', display_name: 'Team operators' }
      ]),
      trans,
      load: async () => ({
        components: [bash, download],
        problems: [{ message: 'x.yaml is not a component' }]
      }),
      baseSchema: async () => base
    });
    await palette.refresh();
    const list = nodeTypes.list();
    expect(list.map(t => t.op).slice(0, 4)).toEqual([
      'execute-notebook-node',
      'execute-python-node',
      'execute-r-node',
      'mlpipe:serve-mlflow-model'
    ]);
    const type = nodeTypes.get(bash.id)!;
    expect(type.category).toBe('Team operators');
    expect(type.title).toBe('BashOperator');
    expect(type.runsFile).toBe(false);
    expect(nodeTypes.get(download.id)!.category).toBe('kfp-examples');
    expect(
      type.subtitle!(createNode({ op: bash.id, filename: '', x: 0, y: 0 }))
    ).toBe('Airflow operator');
    expect(palette.problems).toEqual([
      { message: 'x.yaml is not a component' }
    ]);
  });

  it("gives nodes saved with Elyra's ids of a component its look and form, not a palette entry", async () => {
    const nodeTypes = createNodeTypes();
    const palette = new ComponentPalette({
      nodeTypes,
      catalogs: storeWith([]),
      trans,
      load: async () => ({
        components: [
          {
            ...bash,
            aliases: [
              'local-directory-catalog:0123abcd:BashOperator',
              'execute-python-node'
            ]
          }
        ],
        problems: []
      }),
      baseSchema: async () => base
    });
    await palette.refresh();
    const alias = nodeTypes.get(
      'local-directory-catalog:0123abcd:BashOperator'
    )!;
    expect(alias.hidden).toBe(true);
    expect(alias.title).toBe('BashOperator');
    const raw = await alias.schema!();
    expect(raw.properties.component_parameters.required).toEqual([
      'bash_command'
    ]);
    // never over a built-in type
    expect(nodeTypes.get('execute-python-node')!.hidden).toBeUndefined();
    await palette.refresh();
    // the six built-in types (control flow included) and the component
    expect(nodeTypes.list().filter(t => !t.hidden)).toHaveLength(7);
    palette.dispose();
    expect(nodeTypes.list()).toHaveLength(6);
  });

  it('replaces its entries on refresh and drops the ones gone', async () => {
    const nodeTypes = createNodeTypes();
    let listed = [bash, download];
    const palette = new ComponentPalette({
      nodeTypes,
      catalogs: storeWith([]),
      trans,
      load: async () => ({ components: listed, problems: [] }),
      baseSchema: async () => base
    });
    await palette.refresh();
    expect(nodeTypes.list()).toHaveLength(8);
    listed = [download];
    await palette.refresh();
    expect(nodeTypes.get(bash.id)).toBeUndefined();
    expect(nodeTypes.get(download.id)).toBeDefined();
    expect(nodeTypes.list()).toHaveLength(7);
    palette.dispose();
    expect(nodeTypes.list()).toHaveLength(6);
  });

  it('keeps the palette and says why when the components cannot be read', async () => {
    const nodeTypes = createNodeTypes();
    let fail = false;
    const palette = new ComponentPalette({
      nodeTypes,
      catalogs: storeWith([]),
      trans,
      load: async () => {
        if (fail) {
          throw new Error('Not Found');
        }
        return { components: [bash], problems: [] };
      },
      baseSchema: async () => base
    });
    await palette.refresh();
    fail = true;
    await palette.refresh();
    expect(nodeTypes.get(bash.id)).toBeDefined();
    expect(palette.problems[0].message).toContain('Not Found');
  });

  it("generates the node form from the component's schema with the form engine", async () => {
    const nodeTypes = createNodeTypes();
    const palette = new ComponentPalette({
      nodeTypes,
      catalogs: storeWith([]),
      trans,
      load: async () => ({ components: [bash], problems: [] }),
      baseSchema: async () => base
    });
    await palette.refresh();
    const raw = await nodeTypes.get(bash.id)!.schema!();
    const form = nodeFormSchema(raw, trans);
    const props = form.schema.properties;
    expect(Object.keys(props)).toEqual([
      'label',
      'description',
      'component_parameters',
      'mlpipe'
    ]);
    expect(props.component_parameters.required).toEqual(['bash_command']);
    expect(props.component_parameters.properties.bash_command.type).toBe(
      'string'
    );
    // annotations become widgets, defaults placeholders (never written)
    const ui = form.uiSchema.component_parameters;
    expect(ui.bash_command['ui:widget']).toBe('textarea');
    expect(ui.retries_hint['ui:placeholder']).toBe('3');
    expect(props.component_parameters.properties.retries_hint.default).toBe(
      undefined
    );
    // the Airflow task settings of every node come along
    expect(props.mlpipe.properties.retries).toBeDefined();
    // the server's problems land on the component's fields
    const errors = problemsToErrorSchema([
      {
        message: "required argument 'bash_command' is missing",
        node_id: 'n1',
        path: 'component_parameters/bash_command'
      }
    ]) as any;
    expect(errors.component_parameters.bash_command.__errors).toEqual([
      "required argument 'bash_command' is missing"
    ]);
  });

  it('keeps a component schema that describes the whole node', () => {
    const whole = componentNodeSchema(
      {
        ...download,
        schema: {
          type: 'object',
          properties: {
            component_parameters: {
              type: 'object',
              properties: { url: { type: 'string' } }
            },
            extra: { type: 'string' }
          }
        }
      },
      base
    );
    expect(Object.keys(whole.properties)).toEqual([
      'label',
      'component_parameters',
      'mlpipe',
      'extra'
    ]);
    expect(whole.properties.component_parameters.properties.url.type).toBe(
      'string'
    );
    // without the base schema a component form still has its own fields
    expect(Object.keys(componentNodeSchema(download, null).properties)).toEqual(
      ['component_parameters']
    );
  });

  it('names a palette group by the catalog display name', () => {
    expect(catalogTitle('a', [{ name: 'a', display_name: 'Ops' }])).toBe('Ops');
    expect(catalogTitle('b', [{ name: 'a', display_name: 'Ops' }])).toBe('b');
  });

  it('adds a component node with no file, the component id as op', () => {
    const node = createNode({
      op: bash.id,
      filename: '',
      x: 10,
      y: 20,
      label: 'BashOperator'
    });
    expect(node.op).toBe(bash.id);
    expect(node.app_data!.component_parameters).toEqual({});
    expect(node.app_data!.label).toBe('BashOperator');
  });
});

describe('operator arguments', () => {
  it('types every argument but booleans into the operator-arg widget', () => {
    expect(
      argumentFieldSchema({
        type: 'object',
        default: { a: 1 },
        'x-mlpipe-widget': 'operator-arg'
      })
    ).toEqual({
      type: 'string',
      default: '{"a":1}',
      'x-mlpipe-widget': 'operator-arg',
      'x-mlpipe-value-type': 'object'
    });
    expect(argumentFieldSchema({ type: ['integer', 'null'] })).toEqual({
      type: 'string',
      'x-mlpipe-widget': 'operator-arg',
      'x-mlpipe-value-type': 'integer'
    });
    expect(
      argumentFieldSchema({ type: 'object', 'x-mlpipe-widget': 'textarea' })[
        'x-mlpipe-widget'
      ]
    ).toBe('operator-arg');
    expect(
      argumentFieldSchema({ type: 'string', 'x-mlpipe-widget': 'textarea' })[
        'x-mlpipe-widget'
      ]
    ).toBe('textarea');
    expect(argumentFieldSchema({ title: 'x' })['x-mlpipe-value-type']).toBe(
      'any'
    );
    expect(
      argumentFieldSchema({
        type: 'boolean',
        'x-mlpipe-widget': 'operator-arg'
      })
    ).toEqual({ type: 'boolean' });
  });

  it('reads typed text by the argument type, and keeps hostile text as text', () => {
    expect(parseArgument('42', 'integer')).toBe(42);
    expect(parseArgument('4x', 'integer')).toBe('4x');
    expect(parseArgument('{"a": [1]}', 'object')).toEqual({ a: [1] });
    expect(parseArgument('[1, 2]', 'object')).toBe('[1, 2]');
    expect(parseArgument('[1, 2]', 'array')).toEqual([1, 2]);
    expect(parseArgument('', 'string')).toBeUndefined();
    const hostile = "'); import os; os.system('rm -rf /'); ('";
    expect(parseArgument(hostile, 'string')).toBe(hostile);
    expect(parseArgument('true', 'any')).toBe(true);
    expect(argumentText({ a: 1 })).toBe('{"a":1}');
    expect(argumentText(undefined)).toBe('');
  });
});

describe('component catalog form', () => {
  const info: ICatalogKindInfo = {
    kind: 'component-catalogs',
    schema: 'component-catalog',
    title: 'Component Catalogs',
    noun: 'component catalog',
    summary: () => '',
    template: () => ({ type: 'local-directory-catalog' })
  };
  const raw = served('component-catalog');

  it('shows the fields of the source type', () => {
    const folders = catalogFormSchema(
      info,
      raw,
      { type: 'local-directory-catalog' },
      true
    );
    const props = Object.keys(folders.schema.properties);
    expect(props).toEqual(
      expect.arrayContaining(['paths', 'include_subdirs', 'python_package'])
    );
    expect(props).not.toContain('modules');
    expect(props).not.toContain('airflow_package_download_url');
    expect(props).not.toContain('source');
    expect(folders.schema.required).toEqual(['type', 'paths']);
    expect(folders.uiSchema['ui:order'].slice(0, 5)).toEqual([
      'display_name',
      'name',
      'type',
      'description',
      'paths'
    ]);
    const pkg = catalogFormSchema(info, raw, { type: 'python-package' }, false);
    expect(Object.keys(pkg.schema.properties)).toEqual(
      expect.arrayContaining(['modules', 'environment'])
    );
    expect(pkg.schema.properties.paths).toBeUndefined();
    expect(pkg.schema.required).toEqual(['type', 'modules']);
    expect(pkg.uiSchema.name['ui:readonly']).toBe(true);
    const urls = catalogFormSchema(info, raw, { type: 'url-catalog' }, true);
    expect(urls.uiSchema.auth_password['ui:widget']).toBe('secret');
  });

  it('sends only the fields of the source type', () => {
    expect(
      entryPayload(info, {
        name: 'ops',
        type: 'local-directory-catalog',
        paths: ['operators'],
        modules: ['x.y'],
        airflow_package_download_url: 'https://x',
        source: 'user'
      })
    ).toEqual({
      name: 'ops',
      type: 'local-directory-catalog',
      paths: ['operators']
    });
  });
});
