/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Sidebar panels for the runtime image and runtime configuration catalogs:
 * list, search, add, edit, duplicate and delete, with forms generated from the
 * server's schemas. Secret fields are write-only ("set / change", never shown).
 */

import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  copyIcon,
  deleteIcon,
  editIcon,
  FormComponent,
  LabIcon,
  refreshIcon
} from '@jupyterlab/ui-components';
import type { IChangeEvent } from '@rjsf/core';
import * as React from 'react';

import { describeError, MLPipeClient } from '../api';
import { withFieldProblems } from '../forms/errors';
import {
  IFormSchema,
  relaxOptionalSections,
  setUiOption,
  toFormSchema
} from '../forms/schema';
import { formValidator } from '../forms/validator';
import { IFormContext, SECRET_MASK } from '../forms/widgets';
import { cloneJSON, IJSONObject, isObject } from '../model/elyra';
import type { ICatalogStore, IFormWidgetRegistry, MLPipeAPI } from '../tokens';

/** The extension points a catalog panel uses. */
export interface ICatalogPanelRegistries {
  catalogs: ICatalogStore;
  formWidgets: IFormWidgetRegistry;
}

/** What differs between the two catalogs. */
export interface ICatalogKindInfo {
  kind: MLPipeAPI.CatalogKind;
  /** Schema name on the server. */
  schema: string;
  title: string;
  /** "runtime image", "runtime configuration". */
  noun: string;
  /** A one-line summary of an entry under its name. */
  summary: (entry: MLPipeAPI.ICatalogEntry) => string;
  /** The data of a new entry. */
  template: () => IJSONObject;
}

/** Sections of a runtime configuration that only apply to one runtime type. */
const AIRFLOW_SECTIONS = [
  'airflow',
  'dag_repo',
  'object_storage',
  'kubernetes'
];
const LOCAL_SECTIONS = ['local'];

/**
 * Fields of a component catalog that only apply to some of its source types
 * (`type`); the other fields apply to every type.
 */
export const COMPONENT_CATALOG_FIELDS: { [field: string]: string[] } = {
  environment: ['airflow-providers', 'python-package'],
  providers: ['airflow-providers'],
  modules: ['python-package'],
  paths: ['local-directory-catalog', 'local-file-catalog', 'url-catalog'],
  base_path: ['local-file-catalog'],
  include_subdirs: ['local-directory-catalog'],
  python_package: [
    'local-directory-catalog',
    'local-file-catalog',
    'url-catalog'
  ],
  airflow_package_download_url: ['airflow-package-catalog'],
  airflow_provider_package_download_url: ['airflow-provider-package-catalog'],
  search_contrib: ['airflow-package-catalog'],
  auth_id: ['url-catalog'],
  auth_password: ['url-catalog']
};

/** The fields of a component catalog of `type` that do not apply to it. */
export function foreignComponentFields(type: unknown): string[] {
  return Object.entries(COMPONENT_CATALOG_FIELDS)
    .filter(([, types]) => !types.includes(String(type ?? '')))
    .map(([field]) => field);
}

/**
 * What a runtime configuration lacks for a submit, checked when its form is
 * saved (the planner says the same of each pipeline submitted with it): field
 * and sentence. Empty when nothing is missing.
 */
export function configSubmitProblems(
  data: IJSONObject
): { field: string; message: string }[] {
  if (data.type !== 'airflow') {
    return [];
  }
  const storage = isObject(data.object_storage) ? data.object_storage : {};
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  if (!text(storage.bucket)) {
    return [
      {
        field: 'object_storage',
        message:
          'No object storage (bucket): pipelines with notebook or script nodes cannot be submitted with this configuration, because their files reach the task pods through it.'
      }
    ];
  }
  const airflow = isObject(data.airflow) ? data.airflow : {};
  const auth = isObject(storage.auth) ? storage.auth : {};
  if (
    !text(storage.pod_credentials_secret) &&
    auth.type !== 'irsa' &&
    airflow.execution_mode !== 'local-worker'
  ) {
    return [
      {
        field: 'object_storage.pod_credentials_secret',
        message:
          'No credentials Secret for task pods: pods reach the object storage only with ambient credentials (e.g. IAM roles for service accounts).'
      }
    ];
  }
  return [];
}

/** Keys the server sets; never sent back. */
const SERVER_KEYS = ['source', 'read_only', 'error'];

/** The form for an entry: runtime configurations only show their type's sections. */
export function catalogFormSchema(
  info: ICatalogKindInfo,
  raw: IJSONObject,
  data: IJSONObject,
  isNew: boolean
): IFormSchema {
  const isConfig = info.kind === 'runtime-configs';
  const form = toFormSchema(raw, {
    dropReadOnly: true,
    dropTopLevelAllOf: isConfig
  });
  if (isConfig) {
    const drop = data.type === 'local' ? AIRFLOW_SECTIONS : LOCAL_SECTIONS;
    const props = { ...(form.schema.properties ?? {}) };
    for (const key of drop) {
      delete props[key];
    }
    form.schema = { ...form.schema, properties: props };
    form.schema.required = (form.schema.required ?? []).filter(
      (key: string) => key in props
    );
    if (data.type === 'airflow') {
      form.schema.required = [
        ...new Set([...form.schema.required, 'airflow', 'dag_repo'])
      ];
    }
    form.uiSchema['ui:order'] = [
      'display_name',
      'name',
      'type',
      'description',
      'tags',
      ...AIRFLOW_SECTIONS,
      'local',
      '*'
    ].filter(key => key === '*' || key in props);
  } else if (info.kind === 'component-catalogs') {
    const props = { ...(form.schema.properties ?? {}) };
    for (const key of foreignComponentFields(data.type)) {
      delete props[key];
    }
    form.schema = { ...form.schema, properties: props };
    // the conditionals only say which source fields are required
    delete form.schema.allOf;
    const needs: { [type: string]: string } = {
      'python-package': 'modules',
      'local-directory-catalog': 'paths',
      'local-file-catalog': 'paths',
      'url-catalog': 'paths',
      'airflow-package-catalog': 'airflow_package_download_url',
      'airflow-provider-package-catalog':
        'airflow_provider_package_download_url'
    };
    const need = needs[String(data.type ?? '')];
    form.schema.required = [
      ...new Set([
        ...(form.schema.required ?? []),
        ...(need && need in props ? [need] : [])
      ])
    ].filter((key: string) => key in props);
    form.uiSchema['ui:order'] = [
      'display_name',
      'name',
      'type',
      'description',
      'paths',
      'base_path',
      'include_subdirs',
      'modules',
      'providers',
      'environment',
      'airflow_package_download_url',
      'airflow_provider_package_download_url',
      'search_contrib',
      'python_package',
      'auth_id',
      'auth_password',
      'runtime_type',
      'categories',
      '*'
    ].filter(key => key === '*' || key in props);
  } else {
    form.uiSchema['ui:order'] = [
      'display_name',
      'name',
      'image',
      'pull_policy',
      'pull_secret',
      'description',
      'tags',
      '*'
    ].filter(key => key === '*' || key in (form.schema.properties ?? {}));
  }
  form.schema = relaxOptionalSections(form.schema);
  setUiOption(form.uiSchema, 'description', { 'ui:widget': 'textarea' });
  if (!isNew) {
    setUiOption(form.uiSchema, 'name', { 'ui:readonly': true });
  }
  return form;
}

/** An entry as it is sent to the server: no server keys, no sections of the other runtime type. */
export function entryPayload(
  info: ICatalogKindInfo,
  data: IJSONObject
): IJSONObject {
  const out = cloneJSON(data);
  for (const key of SERVER_KEYS) {
    delete out[key];
  }
  if (info.kind === 'runtime-configs') {
    const drop = out.type === 'local' ? AIRFLOW_SECTIONS : LOCAL_SECTIONS;
    for (const key of drop) {
      delete out[key];
    }
  }
  if (info.kind === 'component-catalogs') {
    for (const key of foreignComponentFields(out.type)) {
      delete out[key];
    }
  }
  return out;
}

/** A copy of an entry to start a new one from: new name, no secrets (they cannot be read back). */
export function duplicateEntry(
  entry: IJSONObject,
  copySuffix: string
): IJSONObject {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      return value.map(strip);
    }
    if (isObject(value)) {
      const out: IJSONObject = {};
      for (const [key, item] of Object.entries(value)) {
        if (item !== SECRET_MASK) {
          out[key] = strip(item);
        }
      }
      return out;
    }
    return value;
  };
  const copy = strip(cloneJSON(entry)) as IJSONObject;
  for (const key of [...SERVER_KEYS, 'name']) {
    delete copy[key];
  }
  copy.display_name = `${entry.display_name ?? entry.name ?? ''}${copySuffix}`;
  return copy;
}

/** Dialog body: the form of one entry. */
class EntryFormBody
  extends ReactWidget
  implements Dialog.IBodyWidget<IJSONObject>
{
  constructor(
    private _info: ICatalogKindInfo,
    private _schema: IJSONObject,
    private _data: IJSONObject,
    private _isNew: boolean,
    private _error: { message: string; field?: string } | null,
    private _trans: TranslationBundle,
    private _readOnly: boolean,
    private _registries: ICatalogPanelRegistries
  ) {
    super();
    this.addClass('jp-MLPipe-EntryForm');
  }

  getValue(): IJSONObject {
    return this._data;
  }

  render(): JSX.Element {
    const form = catalogFormSchema(
      this._info,
      this._schema,
      this._data,
      this._isNew
    );
    const context: IFormContext = {
      defaultFormData: {},
      trans: this._trans,
      catalogs: this._registries.catalogs
    };
    const errors: IJSONObject = {};
    if (this._error?.field) {
      let target = errors;
      for (const part of this._error.field.split(/[./]/).filter(Boolean)) {
        target = target[part] = target[part] ?? {};
      }
      target.__errors = [this._error.message];
    }
    return (
      <div>
        {this._error && (
          <div className="jp-MLPipe-Problem" role="alert">
            {this._error.message}
          </div>
        )}
        <FormComponent
          schema={form.schema as any}
          uiSchema={withFieldProblems(form.uiSchema)}
          formData={this._data}
          formContext={context}
          validator={formValidator}
          widgets={this._registries.formWidgets.widgets()}
          extraErrors={errors as any}
          idPrefix={`mlpipe-${this._info.kind}`}
          liveValidate={false}
          showErrorList={false}
          noHtml5Validate
          compact
          disabled={this._readOnly}
          experimental_defaultFormStateBehavior={{
            emptyObjectFields: 'skipEmptyDefaults',
            arrayMinItems: { populate: 'never' }
          }}
          onChange={(event: IChangeEvent<any>) => {
            const typeChanged = event.formData?.type !== this._data.type;
            this._data = event.formData;
            if (typeChanged) {
              this.update();
            }
          }}
        />
      </div>
    );
  }
}

/** A catalog panel's list, search and actions. */
function CatalogView(props: {
  info: ICatalogKindInfo;
  trans: TranslationBundle;
  icon: LabIcon;
  registries: ICatalogPanelRegistries;
}): JSX.Element {
  const { info, trans } = props;
  const catalogStore = props.registries.catalogs;
  const [items, setItems] = React.useState<MLPipeAPI.ICatalogEntry[]>(() =>
    catalogStore.items(info.kind)
  );
  const [query, setQuery] = React.useState('');
  const [error, setError] = React.useState<string | null>(null);

  const refresh = React.useCallback(() => {
    catalogStore
      .refresh(info.kind)
      .then(() => setError(null))
      .catch(reason => setError(describeError(reason).message));
  }, [info.kind, catalogStore]);

  React.useEffect(() => {
    const update = (_: unknown, kind: string) => {
      if (kind === info.kind) {
        setItems(catalogStore.items(info.kind));
      }
    };
    catalogStore.changed.connect(update);
    refresh();
    return () => {
      catalogStore.changed.disconnect(update);
    };
  }, [info.kind, refresh]);

  const edit = async (
    entry: MLPipeAPI.ICatalogEntry | null,
    start?: IJSONObject
  ) => {
    let schema: IJSONObject;
    try {
      schema = await MLPipeClient.schema(info.schema);
    } catch (reason) {
      setError(describeError(reason).message);
      return;
    }
    const isNew = entry === null;
    const readOnly = !!entry?.read_only;
    let data: IJSONObject =
      start ?? (entry ? cloneJSON(entry) : info.template());
    let failure: { message: string; field?: string } | null = null;
    for (;;) {
      const result = await showDialog({
        title: isNew
          ? trans.__('New %1', info.noun)
          : readOnly
            ? trans.__('%1 (read-only)', entry!.display_name ?? entry!.name)
            : trans.__('Edit %1', entry!.display_name ?? entry!.name),
        body: new EntryFormBody(
          info,
          schema,
          data,
          isNew,
          failure,
          trans,
          readOnly,
          props.registries
        ),
        buttons: readOnly
          ? [Dialog.okButton({ label: trans.__('Close') })]
          : [
              Dialog.cancelButton({ label: trans.__('Cancel') }),
              Dialog.okButton({ label: trans.__('Save') })
            ]
      });
      if (!result.button.accept || readOnly || !result.value) {
        return;
      }
      data = result.value;
      // what submits with this configuration would refuse or warn about: said now
      const lacks =
        info.kind === 'runtime-configs' ? configSubmitProblems(data) : [];
      if (lacks.length) {
        const answer = await showDialog({
          title: trans.__('Submits with this configuration'),
          body: (
            <ul className="jp-MLPipe-ProblemList" data-testid="config-lacks">
              {lacks.map(lack => (
                <li
                  key={lack.field}
                  className="jp-MLPipe-Problem jp-MLPipe-Problem-warning"
                >
                  <strong>{lack.field}</strong>: {trans.__(lack.message)}
                </li>
              ))}
            </ul>
          ),
          buttons: [
            Dialog.cancelButton({ label: trans.__('Back to the form') }),
            Dialog.warnButton({ label: trans.__('Save anyway') })
          ]
        });
        if (!answer.button.accept) {
          failure = { message: lacks[0].message, field: lacks[0].field };
          continue;
        }
      }
      try {
        const payload = entryPayload(info, data);
        if (isNew) {
          await MLPipeClient.createEntry(info.kind, payload);
        } else {
          await MLPipeClient.updateEntry(info.kind, entry!.name, payload);
        }
        refresh();
        return;
      } catch (reason) {
        const { message } = describeError(reason);
        failure = {
          message,
          field: (reason as { field?: string | null }).field ?? undefined
        };
      }
    }
  };

  const remove = async (entry: MLPipeAPI.ICatalogEntry) => {
    const result = await showDialog({
      title: trans.__('Delete %1', info.noun),
      body: trans.__(
        'Delete "%1" from the catalog? Pipelines that use it keep their settings but lose what the entry provides.',
        entry.display_name ?? entry.name
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await MLPipeClient.deleteEntry(info.kind, entry.name);
    } catch (reason) {
      setError(describeError(reason).message);
    }
    refresh();
  };

  const needle = query.trim().toLowerCase();
  const shown = items.filter(
    item =>
      !needle ||
      JSON.stringify([
        item.name,
        item.display_name,
        item.description,
        item.tags,
        info.summary(item)
      ])
        .toLowerCase()
        .includes(needle)
  );

  return (
    <div className="jp-MLPipe-Catalog" data-kind={info.kind}>
      <div className="jp-MLPipe-Catalog-header">
        <props.icon.react tag="span" />
        <h2>{info.title}</h2>
        <button
          className="jp-MLPipe-IconButton"
          title={trans.__('Add a %1', info.noun)}
          aria-label={trans.__('Add a %1', info.noun)}
          data-action="add"
          onClick={() => void edit(null)}
        >
          <addIcon.react tag="span" />
        </button>
        <button
          className="jp-MLPipe-IconButton"
          title={trans.__('Reload the catalog')}
          aria-label={trans.__('Reload the catalog')}
          onClick={refresh}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      <input
        className="jp-mod-styled jp-MLPipe-Catalog-search"
        type="search"
        placeholder={trans.__('Search')}
        aria-label={trans.__('Search %1', info.title)}
        value={query}
        onChange={event => setQuery(event.target.value)}
      />
      {error && (
        <div className="jp-MLPipe-Problem" role="alert">
          {error}
        </div>
      )}
      <ul className="jp-MLPipe-Catalog-list">
        {shown.map(item => (
          <li
            key={item.name}
            className="jp-MLPipe-Catalog-item"
            data-name={item.name}
            onDoubleClick={() => void edit(item)}
          >
            <div className="jp-MLPipe-Catalog-itemText">
              <div className="jp-MLPipe-Catalog-itemName">
                {item.display_name ?? item.name}
                {item.source && item.source !== 'user' && (
                  <span className="jp-MLPipe-Tag">
                    {item.source === 'builtin'
                      ? trans.__('built in')
                      : trans.__('Elyra')}
                  </span>
                )}
              </div>
              <div className="jp-MLPipe-Catalog-itemSummary">
                {info.summary(item)}
              </div>
              {item.error && (
                <div className="jp-MLPipe-Problem">{item.error}</div>
              )}
              {(item.tags ?? []).length > 0 && (
                <div className="jp-MLPipe-Catalog-tags">
                  {item.tags!.map(tag => (
                    <span key={tag} className="jp-MLPipe-Tag">
                      {tag}
                    </span>
                  ))}
                </div>
              )}
            </div>
            <div className="jp-MLPipe-Catalog-actions">
              <button
                className="jp-MLPipe-IconButton"
                title={item.read_only ? trans.__('View') : trans.__('Edit')}
                aria-label={trans.__('Edit')}
                data-action="edit"
                onClick={() => void edit(item)}
              >
                <editIcon.react tag="span" />
              </button>
              <button
                className="jp-MLPipe-IconButton"
                title={trans.__('Duplicate')}
                aria-label={trans.__('Duplicate')}
                data-action="duplicate"
                onClick={() =>
                  void edit(null, duplicateEntry(item, trans.__(' (copy)')))
                }
              >
                <copyIcon.react tag="span" />
              </button>
              <button
                className="jp-MLPipe-IconButton"
                title={
                  item.read_only
                    ? trans.__('Read-only entries cannot be deleted')
                    : trans.__('Delete')
                }
                aria-label={trans.__('Delete')}
                data-action="delete"
                disabled={!!item.read_only}
                onClick={() => void remove(item)}
              >
                <deleteIcon.react tag="span" />
              </button>
            </div>
          </li>
        ))}
      </ul>
      {!shown.length && (
        <div className="jp-MLPipe-Placeholder">
          {items.length
            ? trans.__('Nothing matches "%1".', query)
            : trans.__('The catalog is empty. Add a %1 with +.', info.noun)}
        </div>
      )}
    </div>
  );
}

/** A sidebar panel showing one catalog. */
export class CatalogPanel extends ReactWidget {
  constructor(
    private _info: ICatalogKindInfo,
    private _trans: TranslationBundle,
    private _icon: LabIcon,
    private _registries: ICatalogPanelRegistries
  ) {
    super();
    this.addClass('jp-MLPipe-CatalogPanel');
  }

  render(): JSX.Element {
    return (
      <CatalogView
        info={this._info}
        trans={this._trans}
        icon={this._icon}
        registries={this._registries}
      />
    );
  }
}
