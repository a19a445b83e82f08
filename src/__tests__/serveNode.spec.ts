/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import {
  createNode,
  PALETTE_OPS,
  SERVE_OP,
  serveModelRef
} from '../model/elyra';
import { nodeFormSchema } from '../editor/properties';
import { FormWidgets } from '../forms/schema';
import { served } from './served';

const trans = {
  __: (text: string, ...args: unknown[]) =>
    args.reduce<string>((t, a, i) => t.replace(`%${i + 1}`, String(a)), text),
  _n: (one: string) => one
} as any;

describe('Serve MLflow model node', () => {
  it('is in the palette and has no file', () => {
    expect(PALETTE_OPS).toContain(SERVE_OP);
    const node = createNode({
      op: SERVE_OP,
      filename: '',
      label: 'Serve MLflow model',
      x: 10,
      y: 20
    });
    expect(node.op).toBe(SERVE_OP);
    expect(node.app_data?.component_parameters).toEqual({});
    expect((node.app_data?.ui_data as any).description).toBe(
      'Serve an MLflow model'
    );
    expect(serveModelRef(node)).toBe('');
  });

  it('shows the model reference', () => {
    const node = createNode({ op: SERVE_OP, filename: '', x: 0, y: 0 });
    const params = node.app_data!.component_parameters as any;
    params.model_name = 'churn';
    expect(serveModelRef(node)).toBe('models:/churn');
    params.model_version = '3';
    expect(serveModelRef(node)).toBe('models:/churn/3');
    params.model_alias = 'champion';
    expect(serveModelRef(node)).toBe('models:/churn@champion');
  });

  it('gives the model fields the live registry widgets (from the schema)', () => {
    const schema = served(
      'node-properties',
      '/$defs/mlpipe:serve-mlflow-model'
    );
    const form = nodeFormSchema(schema, trans);
    const cp = (form.uiSchema as any).component_parameters;
    expect(cp.model_name['ui:widget']).toBe(FormWidgets.mlflowModel);
    expect(cp.model_version['ui:widget']).toBe(FormWidgets.mlflowVersion);
    expect(cp.model_alias['ui:widget']).toBe(FormWidgets.mlflowAlias);
    expect(cp.smoke_request['ui:widget']).toBe('textarea');
    expect(cp['ui:order'].slice(0, 4)).toEqual([
      'tracking_uri',
      'model_name',
      'model_alias',
      'model_version'
    ]);
  });
});
