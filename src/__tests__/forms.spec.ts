/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { nullTranslator } from '@jupyterlab/translation';

import {
  describeProblem,
  entryLabel,
  fieldName,
  problemLocation
} from '../api';
import {
  catalogFormSchema,
  configSubmitProblems,
  duplicateEntry,
  entryPayload,
  ICatalogKindInfo
} from '../catalogs/panel';
import { nodeFormSchema, pipelineFormSchema } from '../editor/properties';
import {
  formPatch,
  isPipelineProblem,
  problemsToErrorSchema
} from '../forms/patch';
import { FormWidgets, hasProperty, toFormSchema } from '../forms/schema';
import { formValidator, matchesSchema } from '../forms/validator';
import { parseQuantity, parseScalar } from '../forms/widgets';
import { served } from './served';

const trans = nullTranslator.load('mlpipe_lab');

describe('toFormSchema', () => {
  it('merges allOf, moves defaults to placeholders and types quantities', () => {
    const raw = served('node-properties', '/$defs/execute-python-node');
    const { schema, uiSchema } = toFormSchema(raw);
    const cp = schema.properties.component_parameters;
    expect(cp.allOf).toBeUndefined();
    expect(cp.required).toEqual(['filename']);
    expect(cp.properties.filename.pattern).toBe('\\.py$');
    expect(cp.properties.cpu.type).toBe('string');
    expect(cp.properties.cpu.oneOf).toBeUndefined();
    expect(uiSchema.component_parameters.cpu['ui:widget']).toBe(
      FormWidgets.quantity
    );
    expect(cp.properties.gpu_vendor.default).toBeUndefined();
    expect(uiSchema.component_parameters.gpu_vendor['ui:placeholder']).toBe(
      'nvidia.com/gpu'
    );
    // booleans keep no default and get no placeholder
    expect(cp.properties.include_subdirectories.default).toBeUndefined();
    expect(
      uiSchema.component_parameters.include_subdirectories
    ).toBeUndefined();
    expect(uiSchema.mlpipe.trigger_rule['ui:placeholder']).toBe('all_success');
    expect(JSON.stringify(schema)).not.toContain('"default"');
    expect(schema.title).toBeUndefined();
  });

  it('turns multi-type scalars and write-only strings into custom widgets', () => {
    const { schema, uiSchema } = toFormSchema({
      type: 'object',
      properties: {
        value: { type: ['string', 'number', 'boolean', 'null'] },
        token: { type: 'string', writeOnly: true },
        source: { type: 'string', readOnly: true }
      },
      required: ['source']
    });
    expect(schema.properties.value.type).toBe('string');
    expect(uiSchema.value['ui:widget']).toBe(FormWidgets.scalar);
    expect(uiSchema.token['ui:widget']).toBe(FormWidgets.secret);
    expect(schema.properties.source).toBeDefined();
    const dropped = toFormSchema(
      {
        type: 'object',
        properties: { source: { readOnly: true } },
        required: ['source']
      },
      { dropReadOnly: true }
    );
    expect(dropped.schema.properties).toEqual({});
    expect(dropped.schema.required).toEqual([]);
  });

  it('keeps if/then conditionals for the form to resolve', () => {
    const raw = served('runtime-config');
    const { schema } = toFormSchema(raw, {
      dropReadOnly: true,
      dropTopLevelAllOf: true
    });
    expect(schema.allOf).toBeUndefined();
    const auth = schema.properties.airflow.properties.auth;
    expect(auth.allOf[0].if.properties.type.const).toBe('basic');
    expect(hasProperty(schema, 'airflow/auth/password')).toBe(true);
    expect(hasProperty(schema, 'airflow/nope')).toBe(false);
  });
});

describe('node and pipeline forms', () => {
  it('adds the description and custom widgets to the node form', () => {
    const form = nodeFormSchema(
      served('node-properties', '/$defs/execute-notebook-node'),
      trans
    );
    expect(Object.keys(form.schema.properties)).toEqual([
      'label',
      'description',
      'component_parameters',
      'mlpipe'
    ]);
    const ui = form.uiSchema.component_parameters;
    expect(ui.filename['ui:widget']).toBe(FormWidgets.file);
    expect(ui.runtime_image['ui:widget']).toBe(FormWidgets.runtimeImage);
    expect(ui.disable_node_caching['ui:widget']).toBe('hidden');
    expect(ui.pipeline_parameters['ui:widget']).toBe('pipeline-parameters');
    expect(ui['ui:order'][0]).toBe('filename');
    expect(ui['ui:order']).toContain('*');
  });

  it('offers the runtime image catalog for the pipeline default', () => {
    const form = pipelineFormSchema(served('pipeline-properties'));
    expect(
      form.uiSchema.properties.pipeline_defaults.runtime_image['ui:widget']
    ).toBe(FormWidgets.runtimeImage);
    expect(form.uiSchema.properties.runtime['ui:readonly']).toBe(true);
    // widgets and order from the schema's annotations, not from the code
    expect(form.uiSchema.mlpipe.schedule['ui:widget']).toBe('schedule');
    expect(form.uiSchema['ui:order']).toEqual(['properties', 'mlpipe', '*']);
    expect(form.uiSchema.properties['ui:order'][0]).toBe('name');
    expect(form.schema['x-mlpipe-order']).toBeUndefined();
    expect(
      form.schema.properties.mlpipe.properties.parameters.items.properties
        .default.type
    ).toBe('string');
  });
});

describe('formPatch', () => {
  it('returns only what changed', () => {
    const before = {
      label: 'a',
      component_parameters: { filename: 'a.py', cpu: 1, env_vars: [] },
      mlpipe: {}
    };
    expect(formPatch(before, JSON.parse(JSON.stringify(before)))).toBeNull();
    expect(
      formPatch(before, {
        ...before,
        component_parameters: {
          filename: 'a.py',
          cpu: undefined,
          env_vars: [{ env_var: 'X', value: '1' }]
        }
      })
    ).toEqual({
      component_parameters: {
        cpu: undefined,
        env_vars: [{ env_var: 'X', value: '1' }]
      }
    });
  });

  it('does not add empty objects or lists the form made up', () => {
    const before = { component_parameters: { filename: 'a.py' } };
    expect(
      formPatch(before, {
        component_parameters: {
          filename: 'a.py',
          kubernetes_shared_mem_size: {},
          outputs: []
        },
        mlpipe: {}
      })
    ).toBeNull();
  });
});

describe('problems on fields', () => {
  const problems = [
    {
      message: 'bad value',
      node_id: 'n',
      path: 'component_parameters/env_vars/0/value'
    },
    { message: 'secret?', severity: 'warning', node_id: 'n', path: 'label' },
    { message: 'whole node', node_id: 'n' },
    { message: 'schedule', path: 'mlpipe/schedule' },
    { message: 'json', path: '', line: 3, column: 4 }
  ];

  it('builds an error schema keyed by the problem paths', () => {
    const errors = problemsToErrorSchema(problems.slice(0, 3));
    expect(errors).toEqual({
      component_parameters: {
        env_vars: { 0: { value: { __errors: ['bad value'] } } }
      },
      label: { __errors: ['Warning: secret?'] },
      __errors: ['whole node']
    });
  });

  it('keeps only the given top-level prefixes', () => {
    const errors = problemsToErrorSchema(problems, {
      prefixes: ['properties', 'mlpipe']
    });
    expect(errors).toEqual({
      mlpipe: { schedule: { __errors: ['schedule'] } }
    });
    expect(problems.filter(isPipelineProblem)).toHaveLength(2);
  });

  it('describes problems in plain words', () => {
    expect(
      describeProblem({
        message: 'No runtime image.',
        node_label: 'hello.py',
        node_id: 'n',
        path: 'component_parameters/runtime_image'
      })
    ).toBe("node 'hello.py', field Runtime image: No runtime image.");
    expect(problemLocation({ message: 'x', path: 'mlpipe/retries' })).toBe(
      'pipeline, field Airflow settings › Retries'
    );
    expect(fieldName('component_parameters/env_vars/0/value')).toBe(
      'Environment variables #1 › Value'
    );
    expect(fieldName('properties/pipeline_defaults/runtime_image')).toBe(
      'Defaults for all nodes › Runtime image'
    );
    expect(describeProblem({ message: 'Bad JSON.', line: 3, column: 4 })).toBe(
      'line 3, column 4: Bad JSON.'
    );
    expect(describeProblem({ message: 'Plain.' })).toBe('Plain.');
  });
});

describe('validator', () => {
  it('matches the keywords of our schemas', () => {
    const schema = {
      type: 'object',
      required: ['type'],
      properties: {
        type: { const: 'basic' },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        name: { type: 'string', pattern: '^[a-z]+$', minLength: 2 },
        tags: { type: 'array', items: { type: 'string' } },
        mode: { enum: ['a', 'b'] }
      }
    };
    expect(matchesSchema(schema, { type: 'basic', port: 80 })).toBe(true);
    expect(matchesSchema(schema, { port: 80 })).toBe(false);
    expect(matchesSchema(schema, { type: 'token' })).toBe(false);
    expect(matchesSchema(schema, { type: 'basic', port: 0 })).toBe(false);
    expect(matchesSchema(schema, { type: 'basic', port: 1.5 })).toBe(false);
    expect(matchesSchema(schema, { type: 'basic', name: 'A' })).toBe(false);
    expect(matchesSchema(schema, { type: 'basic', tags: ['x', 1] })).toBe(
      false
    );
    expect(matchesSchema(schema, { type: 'basic', mode: 'c' })).toBe(false);
    expect(matchesSchema({ type: 'number' }, 3)).toBe(true);
    expect(matchesSchema({ not: {} }, 3)).toBe(false);
    expect(
      matchesSchema({ oneOf: [{ type: 'number' }, { type: 'string' }] }, 'x')
    ).toBe(true);
    expect(matchesSchema({ anyOf: [{ const: 1 }, { const: 2 }] }, 3)).toBe(
      false
    );
    const conditional = {
      if: { properties: { type: { const: 'basic' } } },
      then: { required: ['password'] }
    };
    expect(matchesSchema(conditional, { type: 'basic' })).toBe(false);
    expect(matchesSchema(conditional, { type: 'none' })).toBe(true);
    expect(
      matchesSchema({ $ref: '#/$defs/x', $defs: { x: { type: 'string' } } }, 1)
    ).toBe(false);
  });

  it('lists errors of an error schema', () => {
    expect(
      formValidator.toErrorList({
        a: { __errors: ['bad'] },
        __errors: ['root']
      } as any)
    ).toEqual([
      { property: '.a', message: 'bad', stack: '.a bad' },
      { property: '.', message: 'root', stack: '. root' }
    ]);
    expect(formValidator.validateFormData({}, {})).toEqual({
      errors: [],
      errorSchema: {}
    });
  });
});

describe('widget parsers', () => {
  it('types quantities and scalars', () => {
    expect(parseQuantity(' 2 ')).toBe(2);
    expect(parseQuantity('0.5')).toBe(0.5);
    expect(parseQuantity('500m')).toBe('500m');
    expect(parseQuantity('')).toBeUndefined();
    expect(parseScalar('true')).toBe(true);
    expect(parseScalar('-1.5e3')).toBe(-1500);
    expect(parseScalar('abc')).toBe('abc');
    expect(parseScalar('')).toBeUndefined();
  });
});

describe('catalog forms', () => {
  const configs: ICatalogKindInfo = {
    kind: 'runtime-configs',
    schema: 'runtime-config',
    title: 'Runtime Configurations',
    noun: 'runtime configuration',
    summary: () => '',
    template: () => ({ type: 'airflow' })
  };
  const images: ICatalogKindInfo = {
    ...configs,
    kind: 'runtime-images',
    schema: 'runtime-image'
  };

  it('shows only the sections of the runtime type', () => {
    const raw = served('runtime-config');
    const airflow = catalogFormSchema(configs, raw, { type: 'airflow' }, true);
    expect(Object.keys(airflow.schema.properties)).toEqual(
      expect.arrayContaining([
        'airflow',
        'dag_repo',
        'object_storage',
        'kubernetes'
      ])
    );
    expect(airflow.schema.properties.local).toBeUndefined();
    expect(airflow.schema.properties.source).toBeUndefined();
    expect(airflow.schema.required).toEqual(
      expect.arrayContaining(['type', 'airflow', 'dag_repo'])
    );
    // required fields of optional sections are not marked required
    expect(airflow.schema.properties.object_storage.required).toBeUndefined();
    expect(airflow.schema.properties.dag_repo.required).toEqual(['url']);
    const auth = airflow.schema.properties.dag_repo.properties.auth;
    expect(auth.required).toBeUndefined();
    expect(auth.allOf[0].then.required).toBeUndefined();
    expect(airflow.schema.properties.airflow.required).toEqual([
      'api_endpoint'
    ]);
    const local = catalogFormSchema(configs, raw, { type: 'local' }, false);
    expect(local.schema.properties.airflow).toBeUndefined();
    expect(local.schema.properties.local).toBeDefined();
    expect(local.uiSchema.name['ui:readonly']).toBe(true);
    const image = catalogFormSchema(images, served('runtime-image'), {}, true);
    expect(image.uiSchema['ui:order'].slice(0, 3)).toEqual([
      'display_name',
      'name',
      'image'
    ]);
  });

  it('sends no server keys and no sections of the other runtime type', () => {
    expect(
      entryPayload(configs, {
        name: 'x',
        type: 'local',
        local: { branch: 'main' },
        airflow: { api_endpoint: 'http://a' },
        source: 'user',
        read_only: false
      })
    ).toEqual({ name: 'x', type: 'local', local: { branch: 'main' } });
  });

  it('duplicates without the name and the secrets', () => {
    expect(
      duplicateEntry(
        {
          name: 'prod',
          display_name: 'Prod',
          source: 'user',
          dag_repo: {
            url: 'https://g/x.git',
            auth: { type: 'token', token: '********' }
          }
        },
        ' (copy)'
      )
    ).toEqual({
      display_name: 'Prod (copy)',
      dag_repo: { url: 'https://g/x.git', auth: { type: 'token' } }
    });
  });
});

describe('first hour (issue 18)', () => {
  it('names a configuration once', () => {
    expect(
      entryLabel({ name: 'local', display_name: 'Local (embedded)' })
    ).toBe('Local (embedded)');
    expect(entryLabel({ name: 'prod', display_name: 'Team Airflow' })).toBe(
      'Team Airflow (prod)'
    );
    expect(entryLabel({ name: 'prod' })).toBe('prod');
  });

  it('says a runtime-configuration problem is one', () => {
    expect(
      describeProblem({
        code: 'object-storage',
        message: 'no storage',
        extra: { runtime_config: 'prod', config_field: 'object_storage' }
      })
    ).toBe("runtime configuration 'prod', field object_storage: no storage");
  });

  it('checks on save what a submit would lack', () => {
    expect(configSubmitProblems({ type: 'local' })).toEqual([]);
    expect(configSubmitProblems({ type: 'airflow' }).map(p => p.field)).toEqual(
      ['object_storage']
    );
    expect(
      configSubmitProblems({
        type: 'airflow',
        object_storage: { bucket: 'b', pod_credentials_secret: 's' }
      })
    ).toEqual([]);
  });
});
