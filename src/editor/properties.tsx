/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The properties panel: forms for the selected node and for the pipeline,
 * generated from the server's JSON Schemas, with the server's problems on the
 * fields and a list of every problem.
 */

import type { IDocumentManager } from '@jupyterlab/docmanager';
import type { TranslationBundle } from '@jupyterlab/translation';
import { FormComponent } from '@jupyterlab/ui-components';
import type { IChangeEvent } from '@rjsf/core';
import * as React from 'react';

import { describeProblem, MLPipeClient } from '../api';
import { formPatch, problemsToErrorSchema } from '../forms/patch';
import {
  FormWidgets,
  hasProperty,
  IFormSchema,
  setUiOption,
  toFormSchema
} from '../forms/schema';
import { formValidator } from '../forms/validator';
import { formWidgets, IFormContext } from '../forms/widgets';
import { IJSONObject, nodeLabel } from '../model/elyra';
import type { PipelineEditorModel } from '../model/model';
import type { MLPipeAPI } from '../tokens';
import { useModelTick } from './canvas';
import { nodeIcon } from './nodeTypes';

/** Load a schema from the server (cached). */
function useSchema(
  name: string,
  op?: string
): { schema: IJSONObject | null; error: string | null } {
  const [state, setState] = React.useState<{
    schema: IJSONObject | null;
    error: string | null;
  }>({ schema: null, error: null });
  React.useEffect(() => {
    let live = true;
    setState({ schema: null, error: null });
    MLPipeClient.schema(name, op)
      .then(schema => live && setState({ schema, error: null }))
      .catch(
        reason =>
          live &&
          setState({ schema: null, error: (reason as Error).message ?? '' })
      );
    return () => {
      live = false;
    };
  }, [name, op]);
  return state;
}

const NODE_ORDER = [
  'filename',
  'runtime_image',
  'cpu',
  'cpu_limit',
  'memory',
  'memory_limit',
  'gpu',
  'gpu_vendor',
  'dependencies',
  'include_subdirectories',
  'outputs',
  'env_vars',
  'kubernetes_secrets',
  'mounted_volumes',
  'kubernetes_shared_mem_size',
  'kubernetes_tolerations',
  'kubernetes_pod_labels',
  'kubernetes_pod_annotations',
  '*'
];

/** Serve MLflow model nodes: the model first, then where and how it is served. */
const SERVE_ORDER = [
  'tracking_uri',
  'model_name',
  'model_alias',
  'model_version',
  'target',
  'deployment_name',
  'namespace',
  'runtime_image',
  'image_registry',
  'image_repository',
  'image_tag',
  'registry_secret',
  'serving_runtime',
  'replicas',
  'cpu',
  'memory',
  'min_replicas',
  'max_replicas',
  'cpu_target_percent',
  '*'
];

/** The live registry lists of a serve node's model fields. */
const MLFLOW_WIDGETS: { [field: string]: string } = {
  model_name: FormWidgets.mlflowModel,
  model_version: FormWidgets.mlflowVersion,
  model_alias: FormWidgets.mlflowAlias
};

/** The node form: the node schema plus the description Elyra keeps in `ui_data`. */
export function nodeFormSchema(
  raw: IJSONObject,
  trans: TranslationBundle
): IFormSchema {
  const form = toFormSchema(raw);
  const props = { ...(form.schema.properties ?? {}) };
  form.schema = {
    ...form.schema,
    properties: {
      label: props.label,
      description: {
        type: 'string',
        title: trans.__('Description'),
        description: trans.__(
          'What the node does; becomes the Airflow task documentation.'
        )
      },
      ...props
    }
  };
  if (!props.label) {
    delete form.schema.properties.label;
  }
  const ui = form.uiSchema;
  ui['ui:order'] = ['label', 'description', 'component_parameters', '*'];
  setUiOption(ui, 'description', { 'ui:widget': 'textarea' });
  if (hasProperty(form.schema, 'component_parameters')) {
    const cp = form.schema.properties.component_parameters.properties ?? {};
    const order = 'model_name' in cp ? SERVE_ORDER : NODE_ORDER;
    setUiOption(ui, 'component_parameters', {
      'ui:order': order.filter(key => key === '*' || key in cp)
    });
    setUiOption(ui, 'component_parameters/filename', {
      'ui:widget': FormWidgets.file
    });
    setUiOption(ui, 'component_parameters/runtime_image', {
      'ui:widget': FormWidgets.runtimeImage
    });
    for (const [field, widget] of Object.entries(MLFLOW_WIDGETS)) {
      if (field in cp) {
        setUiOption(ui, `component_parameters/${field}`, {
          'ui:widget': widget
        });
      }
    }
    if ('smoke_request' in cp) {
      setUiOption(ui, 'component_parameters/smoke_request', {
        'ui:widget': 'textarea'
      });
    }
    if ('disable_node_caching' in cp) {
      setUiOption(ui, 'component_parameters/disable_node_caching', {
        'ui:widget': 'hidden'
      });
    }
  }
  return form;
}

/** Where a serve node's registry lists come from (its own tracking URI and model). */
function mlflowContext(data: IJSONObject): IFormContext['mlflow'] {
  const params = (data.component_parameters ?? {}) as IJSONObject;
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  return {
    trackingUri: text(params.tracking_uri),
    modelName: text(params.model_name)
  };
}

/** The pipeline form: Elyra's properties (with defaults) and our Airflow settings. */
export function pipelineFormSchema(raw: IJSONObject): IFormSchema {
  const form = toFormSchema(raw);
  const ui = form.uiSchema;
  ui['ui:order'] = ['properties', 'mlpipe', '*'];
  setUiOption(ui, 'properties', {
    'ui:order': ['name', 'description', '*', 'runtime', 'pipeline_defaults']
  });
  setUiOption(ui, 'properties/description', { 'ui:widget': 'textarea' });
  setUiOption(ui, 'properties/runtime', { 'ui:readonly': true });
  setUiOption(ui, 'properties/pipeline_defaults/runtime_image', {
    'ui:widget': FormWidgets.runtimeImage
  });
  setUiOption(ui, 'mlpipe/doc_md', { 'ui:widget': 'textarea' });
  return form;
}

const DEFAULT_FORM_STATE = {
  emptyObjectFields: 'skipEmptyDefaults' as const,
  arrayMinItems: { populate: 'never' as const }
};

/** Common props of our forms. */
function SchemaForm(props: {
  form: IFormSchema;
  formData: IJSONObject;
  idPrefix: string;
  errors: ReturnType<typeof problemsToErrorSchema>;
  context: IFormContext;
  onChange: (data: IJSONObject) => void;
}): JSX.Element {
  return (
    <FormComponent
      schema={props.form.schema as any}
      uiSchema={props.form.uiSchema}
      formData={props.formData}
      formContext={props.context}
      validator={formValidator}
      widgets={formWidgets}
      idPrefix={props.idPrefix}
      extraErrors={props.errors as any}
      liveValidate={false}
      showErrorList={false}
      noHtml5Validate
      compact
      showModifiedFromDefault={false}
      experimental_defaultFormStateBehavior={DEFAULT_FORM_STATE}
      onChange={(event: IChangeEvent<any>) => props.onChange(event.formData)}
    />
  );
}

/** Problems as a list; clicking one selects its node. */
export function ProblemList(props: {
  problems: readonly MLPipeAPI.IProblem[];
  trans: TranslationBundle;
  onSelect?: (problem: MLPipeAPI.IProblem) => void;
  showLocation?: boolean;
}): JSX.Element | null {
  const { problems, trans } = props;
  if (!problems.length) {
    return null;
  }
  return (
    <ul className="jp-MLPipe-ProblemList" aria-label={trans.__('Problems')}>
      {problems.map((p, i) => (
        <li
          key={i}
          className={`jp-MLPipe-Problem${
            p.severity === 'warning' ? ' jp-MLPipe-Problem-warning' : ''
          }`}
          data-code={p.code}
          onClick={() => props.onSelect?.(p)}
          role={props.onSelect ? 'button' : undefined}
        >
          <span className="jp-MLPipe-Problem-severity">
            {p.severity === 'warning' ? trans.__('Warning') : trans.__('Error')}
          </span>{' '}
          {props.showLocation === false ? p.message : describeProblem(p)}
        </li>
      ))}
    </ul>
  );
}

interface IPanelProps {
  model: PipelineEditorModel;
  trans: TranslationBundle;
  docManager: IDocumentManager | null;
  idPrefix: string;
  onClose: () => void;
}

/** The node tab. */
function NodeProperties(props: IPanelProps & { nodeId: string }): JSX.Element {
  const { model, trans, nodeId } = props;
  const node = model.node(nodeId)!;
  const { schema, error } = useSchema('node-properties', node.op);
  const form = React.useMemo(
    () => (schema ? nodeFormSchema(schema, trans) : null),
    [schema, trans]
  );
  const data = model.nodeData(nodeId) ?? {};
  const problems = model.nodeProblems(nodeId);
  const errors = React.useMemo(
    () => problemsToErrorSchema(problems),
    [JSON.stringify(problems)]
  );
  const defaultImage =
    model.pipelineData().properties?.pipeline_defaults?.runtime_image;
  const context: IFormContext = {
    defaultFormData: {},
    trans,
    docManager: props.docManager,
    folder: model.folder,
    runtimeImageFallback: defaultImage
      ? trans.__('Pipeline default (%1)', defaultImage)
      : trans.__('Pipeline default (none set)'),
    mlflow: mlflowContext(data)
  };
  const Icon = nodeIcon(node.op);
  return (
    <div className="jp-MLPipe-Properties-node" data-node-id={nodeId}>
      <div className="jp-MLPipe-Properties-heading">
        <Icon.react tag="span" />
        <span>{nodeLabel(node)}</span>
      </div>
      <ProblemList problems={problems} trans={trans} showLocation={false} />
      {error && (
        <div className="jp-MLPipe-Problem">
          {trans.__('Cannot load the properties of this node type: %1', error)}
        </div>
      )}
      {!schema && !error && (
        <div className="jp-MLPipe-Placeholder">{trans.__('Loading…')}</div>
      )}
      {form && (
        <SchemaForm
          form={form}
          formData={data}
          idPrefix={`${props.idPrefix}-node-${nodeId}`}
          errors={errors}
          context={context}
          onChange={next => {
            const patch = formPatch(data, next);
            if (patch) {
              model.setNodeData(nodeId, patch);
            }
          }}
        />
      )}
    </div>
  );
}

/** The pipeline tab. */
function PipelineProperties(props: IPanelProps): JSX.Element {
  const { model, trans } = props;
  const { schema, error } = useSchema('pipeline-properties');
  const form = React.useMemo(
    () => (schema ? pipelineFormSchema(schema) : null),
    [schema]
  );
  const data = model.pipelineData() as IJSONObject;
  const problems = model.problems.filter(p => !p.node_id);
  const errors = React.useMemo(
    () =>
      problemsToErrorSchema(problems, { prefixes: ['properties', 'mlpipe'] }),
    [JSON.stringify(problems)]
  );
  const context: IFormContext = {
    defaultFormData: {},
    trans,
    docManager: props.docManager,
    folder: model.folder,
    runtimeImageFallback: trans.__('(none)')
  };
  return (
    <div className="jp-MLPipe-Properties-pipeline">
      <ProblemList problems={problems} trans={trans} />
      {error && (
        <div className="jp-MLPipe-Problem">
          {trans.__('Cannot load the pipeline properties: %1', error)}
        </div>
      )}
      {!schema && !error && (
        <div className="jp-MLPipe-Placeholder">{trans.__('Loading…')}</div>
      )}
      {form && (
        <SchemaForm
          form={form}
          formData={data}
          idPrefix={`${props.idPrefix}-pipeline`}
          errors={errors}
          context={context}
          onChange={next => {
            const patch = formPatch(data, next);
            if (patch) {
              model.setPipelineData(patch);
            }
          }}
        />
      )}
    </div>
  );
}

/** The panel on the right of the canvas. */
export function PropertiesPanel(props: IPanelProps): JSX.Element {
  const { model, trans } = props;
  useModelTick(model);
  const selected = model.selectedNode;
  const [tab, setTab] = React.useState<'node' | 'pipeline'>(
    selected ? 'node' : 'pipeline'
  );
  // follow the selection: selecting a node shows its properties
  const selectedId = selected?.id ?? null;
  React.useEffect(() => {
    if (selectedId) {
      setTab('node');
    }
  }, [selectedId]);

  const count = model.selection.size;
  const select = (problem: MLPipeAPI.IProblem) => {
    if (problem.node_id && model.node(problem.node_id)) {
      model.select([problem.node_id]);
      setTab('node');
    } else {
      setTab('pipeline');
    }
  };
  const errors = model.problems.filter(p => p.severity !== 'warning').length;
  const warnings = model.problems.length - errors;

  return (
    <div
      className="jp-MLPipe-Properties"
      data-testid="mlpipe-properties"
      aria-label={trans.__('Properties')}
    >
      <div className="jp-MLPipe-Properties-tabs" role="tablist">
        <button
          role="tab"
          aria-selected={tab === 'node'}
          className={`jp-MLPipe-Tab${tab === 'node' ? ' jp-mod-active' : ''}`}
          onClick={() => setTab('node')}
        >
          {trans.__('Node')}
        </button>
        <button
          role="tab"
          aria-selected={tab === 'pipeline'}
          className={`jp-MLPipe-Tab${tab === 'pipeline' ? ' jp-mod-active' : ''}`}
          onClick={() => setTab('pipeline')}
        >
          {trans.__('Pipeline')}
        </button>
        <span
          className="jp-MLPipe-Properties-status"
          title={trans.__('Problems')}
        >
          {errors > 0 && (
            <span className="jp-MLPipe-Badge jp-MLPipe-Badge-error">
              {errors}
            </span>
          )}
          {warnings > 0 && (
            <span className="jp-MLPipe-Badge jp-MLPipe-Badge-warning">
              {warnings}
            </span>
          )}
        </span>
        <button
          className="jp-MLPipe-Properties-close"
          aria-label={trans.__('Close properties')}
          title={trans.__('Close properties')}
          onClick={props.onClose}
        >
          ×
        </button>
      </div>
      <div className="jp-MLPipe-Properties-body">
        {tab === 'node' &&
          (selected ? (
            <NodeProperties key={selected.id} {...props} nodeId={selected.id} />
          ) : (
            <div className="jp-MLPipe-Placeholder">
              {count > 1
                ? trans.__(
                    '%1 items selected. Select one node to edit it.',
                    count
                  )
                : trans.__('Select a node to edit its properties.')}
              <ProblemList
                problems={model.problems}
                trans={trans}
                onSelect={select}
              />
            </div>
          ))}
        {tab === 'pipeline' && <PipelineProperties {...props} />}
      </div>
    </div>
  );
}
