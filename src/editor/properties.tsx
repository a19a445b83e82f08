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
import { withFieldProblems } from '../forms/errors';
import { WidgetField } from '../forms/controlFlow';
import {
  FormWidgets,
  IFormSchema,
  setUiOption,
  setWidgetAt,
  toFormSchema,
  WIDGET_FIELD
} from '../forms/schema';
import { formValidator } from '../forms/validator';
import type { IFormContext } from '../forms/widgets';
import {
  ancestorsOf,
  childrenOf,
  distinctLabels,
  INodeChoice,
  listParameters
} from '../model/controlFlow';
import { IJSONObject, isNodeOp, nodeLabel } from '../model/elyra';
import { isBinding, isExpanded, isSupernode } from '../model/supernode';
import type { PipelineEditorModel } from '../model/model';
import type {
  IFormWidgetRegistry,
  INodeTypeRegistry,
  MLPipeAPI
} from '../tokens';
import { useModelTick } from './canvas';
import { nodeIcon } from './nodeTypes';
import type { IEditorRegistries } from './widget';

/** The widgets of the registry, following its changes. */
function useFormWidgets(
  registry: IFormWidgetRegistry
): ReturnType<IFormWidgetRegistry['widgets']> {
  const [widgets, setWidgets] = React.useState(() => registry.widgets());
  React.useEffect(() => {
    const update = () => setWidgets(registry.widgets());
    registry.changed.connect(update);
    return () => {
      registry.changed.disconnect(update);
    };
  }, [registry]);
  return widgets;
}

/** Load a schema: the node type's own, else the server's (cached). */
function useSchema(
  name: string,
  op?: string,
  nodeTypes?: INodeTypeRegistry
): { schema: IJSONObject | null; error: string | null } {
  const [state, setState] = React.useState<{
    schema: IJSONObject | null;
    error: string | null;
  }>({ schema: null, error: null });
  React.useEffect(() => {
    let live = true;
    setState({ schema: null, error: null });
    const own = op ? nodeTypes?.get(op)?.schema : undefined;
    (own ? own() : MLPipeClient.schema(name, op))
      .then(schema => live && setState({ schema, error: null }))
      .catch(
        reason =>
          live &&
          setState({ schema: null, error: (reason as Error).message ?? '' })
      );
    return () => {
      live = false;
    };
  }, [name, op, nodeTypes]);
  return state;
}

/** The node form: the node schema plus the description Elyra keeps in `ui_data`. */
export function nodeFormSchema(
  raw: IJSONObject,
  trans: TranslationBundle,
  op?: string
): IFormSchema {
  const form = toFormSchema(raw);
  const props = { ...(form.schema.properties ?? {}) };
  const mlpipe = props.mlpipe;
  if (
    op !== undefined &&
    !isNodeOp(op) &&
    mlpipe?.properties?.for_each !== undefined
  ) {
    // only notebook, Python and R nodes fan out (the planner refuses the rest)
    const { for_each: dropped, ...others } = mlpipe.properties;
    void dropped;
    props.mlpipe = { ...mlpipe, properties: others };
  }
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
  // widgets and field order come from the schema's x-mlpipe-widget / x-mlpipe-order
  const ui = form.uiSchema;
  ui['ui:order'] = ['label', 'description', 'component_parameters', '*'];
  setUiOption(ui, 'description', { 'ui:widget': 'textarea' });
  // control flow (docs/control-flow.md): these widgets even when the schema names none
  setWidgetAt(form, 'component_parameters/value_from', FormWidgets.valueFrom);
  setWidgetAt(form, 'component_parameters/rules', FormWidgets.branchRules);
  setWidgetAt(
    form,
    'component_parameters/otherwise',
    FormWidgets.branchTargets
  );
  setWidgetAt(form, 'mlpipe/for_each', FormWidgets.forEach);
  setWidgetAt(
    form,
    'component_parameters/mlpipe/for_each',
    FormWidgets.forEach
  );
  return form;
}

/** The nodes before and after a node, by label (labels shared by several nodes numbered). */
export function graphChoices(
  model: PipelineEditorModel,
  nodeId: string
): { ancestors: INodeChoice[]; children: INodeChoice[] } {
  const nodes = model.nodes.map(n => ({ id: n.id, label: nodeLabel(n) }));
  const labels = distinctLabels(nodes);
  const named = nodes.map(n => ({ id: n.id, label: labels.get(n.id)! }));
  const links = model.links;
  return {
    ancestors: ancestorsOf(nodeId, links, named),
    children: childrenOf(nodeId, links, named)
  };
}

/** The names of the pipeline's parameters (for the "Pipeline parameters used" picker). */
function pipelineParameterNames(model: PipelineEditorModel): string[] {
  const params = model.pipelineData().mlpipe?.parameters;
  return Array.isArray(params)
    ? params
        .map(p => (p && typeof p.name === 'string' ? p.name : ''))
        .filter(Boolean)
    : [];
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
  return toFormSchema(raw);
}

/** Renders registry widgets for objects and lists of objects (see `WIDGET_FIELD`). */
const FORM_FIELDS = { [WIDGET_FIELD]: WidgetField };

const DEFAULT_FORM_STATE = {
  emptyObjectFields: 'skipEmptyDefaults' as const,
  arrayMinItems: { populate: 'never' as const }
};

/** Common props of our forms. */
function SchemaForm(props: {
  form: IFormSchema;
  widgets: IFormWidgetRegistry;
  formData: IJSONObject;
  idPrefix: string;
  errors: ReturnType<typeof problemsToErrorSchema>;
  context: IFormContext;
  onChange: (data: IJSONObject) => void;
}): JSX.Element {
  return (
    <FormComponent
      schema={props.form.schema as any}
      uiSchema={withFieldProblems(props.form.uiSchema)}
      formData={props.formData}
      formContext={props.context}
      validator={formValidator}
      widgets={useFormWidgets(props.widgets)}
      fields={FORM_FIELDS}
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
  registries: IEditorRegistries;
  trans: TranslationBundle;
  docManager: IDocumentManager | null;
  idPrefix: string;
  onClose: () => void;
}

/** The node tab. */
function NodeProperties(props: IPanelProps & { nodeId: string }): JSX.Element {
  const { model, trans, nodeId } = props;
  const node = model.node(nodeId)!;
  const { nodeTypes } = props.registries;
  const { schema, error } = useSchema('node-properties', node.op, nodeTypes);
  const form = React.useMemo(
    () => (schema ? nodeFormSchema(schema, trans, node.op) : null),
    [schema, trans, node.op]
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
    catalogs: props.registries.catalogs,
    nodeTypes,
    runtimeImageFallback: defaultImage
      ? trans.__('Pipeline default (%1)', defaultImage)
      : trans.__('Pipeline default (none set)'),
    mlflow: mlflowContext(data),
    pipelineParameters: pipelineParameterNames(model),
    listParameters: listParameters(model.pipelineData().mlpipe),
    nodeParameters: data.component_parameters ?? {},
    ...graphChoices(model, nodeId)
  };
  const Icon = nodeIcon(nodeTypes, node.op);
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
          widgets={props.registries.formWidgets}
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

/** The node tab of a supernode: its label, what it holds, and the ways into it. */
function SupernodeProperties(
  props: IPanelProps & { nodeId: string }
): JSX.Element {
  const { model, trans, nodeId } = props;
  const node = model.node(nodeId)!;
  const label = nodeLabel(node);
  const [text, setText] = React.useState(label);
  React.useEffect(() => setText(label), [label]);
  const count = model.supernodeNodes(nodeId).length;
  const expanded = isExpanded(node);
  return (
    <div
      className="jp-MLPipe-Properties-node jp-MLPipe-Properties-supernode"
      data-node-id={nodeId}
    >
      <div className="jp-MLPipe-Properties-heading">
        <span>{label}</span>
      </div>
      <ProblemList
        problems={model.nodeProblems(nodeId)}
        trans={trans}
        showLocation={false}
      />
      <label className="jp-MLPipe-Field">
        <span>{trans.__('Label')}</span>
        <input
          className="jp-mod-styled"
          value={text}
          aria-label={trans.__('Supernode label')}
          onChange={event => setText(event.target.value)}
          onBlur={() => {
            if (text.trim() && text.trim() !== label) {
              model.setNodeData(nodeId, { label: text.trim() });
            }
          }}
        />
      </label>
      <p className="jp-MLPipe-Hint">
        {trans._n(
          'A supernode groups %1 node; its tasks run as if they were in the pipeline itself.',
          'A supernode groups %1 nodes; their tasks run as if they were in the pipeline itself.',
          count
        )}
      </p>
      <div className="jp-MLPipe-Properties-actions">
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept"
          onClick={() => model.openSupernode(nodeId)}
        >
          {trans.__('Open')}
        </button>
        <button
          type="button"
          className="jp-mod-styled"
          onClick={() => model.setSupernodeExpanded(nodeId, !expanded)}
        >
          {expanded ? trans.__('Collapse') : trans.__('Expand')}
        </button>
        <button
          type="button"
          className="jp-mod-styled"
          onClick={() => model.ungroupSupernode(nodeId)}
        >
          {trans.__('Ungroup')}
        </button>
      </div>
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
    catalogs: props.registries.catalogs,
    runtimeImageFallback: trans.__('(none)'),
    startDate:
      typeof data.mlpipe?.start_date === 'string'
        ? data.mlpipe.start_date
        : undefined
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
          widgets={props.registries.formWidgets}
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
          (selected && isSupernode(selected) ? (
            <SupernodeProperties
              key={selected.id}
              {...props}
              nodeId={selected.id}
            />
          ) : selected && isBinding(selected) ? (
            <div className="jp-MLPipe-Placeholder">
              {trans.__(
                'This marks where links cross the border of the supernode. Connect nodes to it to take inputs from outside or give outputs out.'
              )}
            </div>
          ) : selected ? (
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
