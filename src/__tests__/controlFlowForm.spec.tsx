/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The node form with the server's own node-properties schema, in rjsf: what
 * a control flow widget writes reaches the document whole.
 */

import { nullTranslator } from '@jupyterlab/translation';
import Form from '@rjsf/core';
import * as fs from 'fs';
import * as path from 'path';
import * as React from 'react';
import { act } from 'react';
import { createRoot } from 'react-dom/client';

import { nodeFormSchema } from '../editor/properties';
import { WidgetField } from '../forms/controlFlow';
import { OWN_SCHEMA, WIDGET_FIELD } from '../forms/schema';
import { formValidator } from '../forms/validator';
import { builtinFormWidgets } from '../forms/widgets';

const trans = nullTranslator.load('mlpipe_lab');

/** The server's schema of a node type with its `$ref`s inlined (as the server serves it). */
function nodeSchema(op: string): any {
  const root = JSON.parse(
    fs.readFileSync(
      path.join(__dirname, '../../mlpipe_lab/schemas/node-properties.json'),
      'utf-8'
    )
  );
  const inline = (node: any): any => {
    if (Array.isArray(node)) {
      return node.map(inline);
    }
    if (node && typeof node === 'object') {
      if (typeof node.$ref === 'string') {
        const { $ref, ...rest } = node;
        return {
          ...inline(root.$defs[$ref.split('/').pop()]),
          ...inline(rest)
        };
      }
      return Object.fromEntries(
        Object.entries(node).map(([k, v]) => [k, inline(v)])
      );
    }
    return node;
  };
  return inline(root.$defs[op]);
}

/** Render the node form; `write` sends a value from the widget named `widget`. */
async function renderForm(op: string, widget: string, formData: object) {
  const form = nodeFormSchema(nodeSchema(op), trans, op);
  const seen: any[] = [];
  let write: (value: unknown) => void = () => undefined;
  const Probe = (props: any) => {
    write = props.onChange;
    return <div />;
  };
  const host = document.createElement('div');
  document.body.appendChild(host);
  const root = createRoot(host);
  await act(async () => {
    root.render(
      <Form
        schema={form.schema as any}
        uiSchema={form.uiSchema}
        validator={formValidator}
        fields={{ [WIDGET_FIELD]: WidgetField }}
        widgets={{ ...builtinFormWidgets, [widget]: Probe }}
        formData={formData}
        formContext={{ trans }}
        experimental_defaultFormStateBehavior={{
          emptyObjectFields: 'skipEmptyDefaults',
          arrayMinItems: { populate: 'never' }
        }}
        onChange={event => seen.push(event.formData)}
      />
    );
  });
  return {
    form,
    seen,
    write: (value: unknown) => act(async () => write(value)),
    dispose: () => act(async () => root.unmount())
  };
}

describe('control flow widgets in the node form', () => {
  it('a fan-out over a parameter reaches the document whole (rjsf keeps out of the oneOf)', async () => {
    const view = await renderForm('execute-python-node', 'for-each', {
      label: 'each',
      mlpipe: {}
    });
    const forEach = view.form.schema.properties.mlpipe.properties.for_each;
    expect(forEach.type).toBe('object');
    expect(forEach[OWN_SCHEMA].properties.max_parallel.maximum).toBe(64);
    await view.write({
      value_from: { from: 'parameter', parameter: 'regions' },
      max_parallel: 2
    });
    expect(view.seen.map(d => d.mlpipe)).toEqual([
      {
        for_each: {
          value_from: { from: 'parameter', parameter: 'regions' },
          max_parallel: 2
        }
      }
    ]);
    await view.dispose();
  });

  it("a branch's value and rules reach the document whole", async () => {
    const view = await renderForm('mlpipe:branch', 'value-from', {
      label: 'Branch',
      component_parameters: {
        rules: [{ op: '>=', value: 0.9, run: ['n-deploy'] }]
      }
    });
    // the branch node has no fan-out section
    expect(
      view.form.schema.properties.mlpipe.properties.for_each
    ).toBeUndefined();
    await view.write({ from: 'result', node: 'n-train', key: 'metrics.acc' });
    expect(view.seen.map(d => d.component_parameters)).toEqual([
      {
        value_from: { from: 'result', node: 'n-train', key: 'metrics.acc' },
        rules: [{ op: '>=', value: 0.9, run: ['n-deploy'] }]
      }
    ]);
    await view.dispose();
  });
});
