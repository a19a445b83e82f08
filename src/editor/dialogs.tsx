/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Export and submit: pick a runtime configuration, save, call the server, and
 * report the result (or the problems, in plain words with node and field).
 * Nothing on the canvas changes on failure.
 */

import {
  Dialog,
  Notification,
  ReactWidget,
  showDialog
} from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  describeError,
  describeProblem,
  entryLabel,
  MLPipeClient
} from '../api';
import { basename, isNodeOp, nodeParameters } from '../model/elyra';
import { MLPipeRequestError } from '../request';
import type {
  ICatalogStore,
  IPipelineEditor,
  ISubmitFollowUps,
  MLPipeAPI
} from '../tokens';

/** The runtime configuration chosen last in this session. */
let lastRuntimeConfig = 'local';

/** Dialog body: choose a runtime configuration. */
export class RuntimeConfigPicker
  extends ReactWidget
  implements Dialog.IBodyWidget<string>
{
  constructor(
    private _configs: MLPipeAPI.IRuntimeConfig[],
    private _trans: TranslationBundle,
    private _intro: string,
    initial: string,
    private _facts:
      JSX.Element | ((config: string) => JSX.Element) | null = null
  ) {
    super();
    this.addClass('jp-MLPipe-ConfigPicker');
    this._value = _configs.some(c => c.name === initial)
      ? initial
      : (_configs[0]?.name ?? '');
  }

  getValue(): string {
    return this._value;
  }

  render(): JSX.Element {
    const trans = this._trans;
    const chosen = this._configs.find(c => c.name === this._value);
    return (
      <div>
        <p>{this._intro}</p>
        <label className="jp-MLPipe-Field">
          <span>{trans.__('Runtime configuration')}</span>
          <select
            className="jp-mod-styled jp-MLPipe-Select"
            name="runtime_config"
            value={this._value}
            onChange={event => {
              this._value = event.target.value;
              this.update();
            }}
          >
            {this._configs.map(config => (
              <option key={config.name} value={config.name}>
                {entryLabel(config)}
              </option>
            ))}
          </select>
        </label>
        {chosen?.description && (
          <p className="jp-MLPipe-Hint">{chosen.description}</p>
        )}
        {chosen?.error && <p className="jp-MLPipe-Problem">{chosen.error}</p>}
        {typeof this._facts === 'function'
          ? this._facts(this._value)
          : this._facts}
      </div>
    );
  }

  private _value: string;
}

/** A body listing problems under a message. */
function ProblemsBody(props: {
  message: string;
  problems: MLPipeAPI.IProblem[];
  trans: TranslationBundle;
}): JSX.Element {
  return (
    <div className="jp-MLPipe-ProblemsDialog">
      <p>{props.message}</p>
      {props.problems.length > 0 && (
        <ul className="jp-MLPipe-ProblemList">
          {props.problems.map((p, i) => (
            <li
              key={i}
              className={`jp-MLPipe-Problem${
                p.severity === 'warning' ? ' jp-MLPipe-Problem-warning' : ''
              }`}
            >
              {describeProblem(p)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Show an error, with the problems that came with it. */
export async function showProblems(
  title: string,
  error: unknown,
  trans: TranslationBundle
): Promise<void> {
  const { message, problems } = describeError(error);
  await showDialog({
    title,
    body: ReactWidget.create(
      <ProblemsBody message={message} problems={problems} trans={trans} />
    ),
    buttons: [Dialog.okButton({ label: trans.__('Close') })]
  });
}

/** Ask for a runtime configuration; null when cancelled. */
async function chooseConfig(
  catalogs: ICatalogStore,
  title: string,
  intro: string,
  accept: string | null,
  trans: TranslationBundle,
  facts: JSX.Element | ((config: string) => JSX.Element) | null = null
): Promise<string | null> {
  let configs: MLPipeAPI.IRuntimeConfig[];
  try {
    configs =
      await catalogs.refresh<MLPipeAPI.IRuntimeConfig>('runtime-configs');
  } catch (error) {
    await showProblems(
      trans.__('Cannot read the runtime configurations'),
      error,
      trans
    );
    return null;
  }
  const result = await showDialog({
    title,
    body: new RuntimeConfigPicker(
      configs,
      trans,
      intro,
      lastRuntimeConfig,
      facts
    ),
    // no accept button when the action cannot be done (the facts say why)
    buttons: accept
      ? [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.okButton({ label: accept })
        ]
      : [Dialog.cancelButton({ label: trans.__('Close') })],
    focusNodeSelector: 'select'
  });
  if (!result.button.accept || !result.value) {
    return null;
  }
  lastRuntimeConfig = result.value;
  return result.value;
}

/** The nodes that run a file but have no runtime image, when the pipeline has no default either. */
export function nodesWithoutImage(editor: IPipelineEditor): string[] {
  const model = editor.editorModel;
  const defaults = model.pipelineData().properties?.pipeline_defaults ?? {};
  if (typeof defaults.runtime_image === 'string' && defaults.runtime_image) {
    return [];
  }
  return model.nodes
    .filter(n => isNodeOp(n.op) && !nodeParameters(n).runtime_image)
    .map(n => n.id);
}

/** The runtime image chosen in a dialog ('' for none). */
interface IImageChoice {
  image: string;
}

/**
 * Asks for the runtime image of nodes that have none (from the catalog): a
 * notebook or script exported from the file browser starts without one.
 */
function ImageChooser(props: {
  images: MLPipeAPI.IRuntimeImage[];
  count: number;
  choice: IImageChoice;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans, choice } = props;
  const [value, setValue] = React.useState(choice.image);
  const images = props.images.filter(i => i.image);
  return (
    <div className="jp-MLPipe-ImageChooser">
      <label className="jp-MLPipe-Field">
        <span>{trans.__('Runtime image')}</span>
        <select
          className="jp-mod-styled jp-MLPipe-Select"
          name="runtime_image"
          value={value}
          onChange={event => {
            choice.image = event.target.value;
            setValue(event.target.value);
          }}
        >
          <option value="">
            {trans.__('(choose the image the nodes run in)')}
          </option>
          {images.map(image => (
            <option key={image.name} value={image.image}>
              {image.display_name
                ? `${image.display_name} (${image.image})`
                : image.image}
            </option>
          ))}
        </select>
      </label>
      <p className="jp-MLPipe-Hint">
        {images.length
          ? trans._n(
              '%1 node has no runtime image; the one chosen here becomes the pipeline default.',
              '%1 nodes have no runtime image; the one chosen here becomes the pipeline default.',
              props.count
            )
          : trans.__(
              'The runtime image catalog is empty: add the image your nodes run in (Runtime Images in the left sidebar), or set it in the node properties.'
            )}
      </p>
    </div>
  );
}

/** The image chooser when some nodes need one, else null; `choice` receives the pick. */
async function imageNeed(
  editor: IPipelineEditor,
  catalogs: ICatalogStore,
  choice: IImageChoice,
  trans: TranslationBundle
): Promise<JSX.Element | null> {
  const missing = nodesWithoutImage(editor);
  if (!missing.length) {
    return null;
  }
  const images = await catalogs
    .refresh<MLPipeAPI.IRuntimeImage>('runtime-images')
    .catch(() => []);
  return (
    <ImageChooser
      images={images}
      count={missing.length}
      choice={choice}
      trans={trans}
    />
  );
}

/** Make the chosen image the pipeline default (before saving). */
function applyImage(editor: IPipelineEditor, choice: IImageChoice): void {
  if (choice.image) {
    editor.editorModel.setPipelineData({
      properties: { pipeline_defaults: { runtime_image: choice.image } }
    });
  }
}

/** Save the pipeline when it has unsaved changes; false (and a message) when that fails. */
async function saveFirst(
  editor: IPipelineEditor,
  trans: TranslationBundle
): Promise<boolean> {
  if (!editor.context.model.dirty) {
    return true;
  }
  try {
    await editor.context.save();
    return true;
  } catch (error) {
    await showProblems(
      trans.__('The pipeline could not be saved'),
      error,
      trans
    );
    return false;
  }
}

/** Options of export and submit. */
export interface IRunOptions {
  trans: TranslationBundle;
  /** The server's catalogs (for the runtime configurations). */
  catalogs: ICatalogStore;
  /** The next steps offered after a submit. */
  followUps: ISubmitFollowUps;
  /** Open a file by its path from the server root. */
  openFile: (path: string) => void;
  /** Skip the dialog and use this runtime configuration. */
  runtimeConfig?: string;
}

/** The DAG id and file of an export, and what is at that file now. */
export function ExportTargetFacts(props: {
  target: MLPipeAPI.IExportTarget;
  pipeline: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { target, pipeline, trans } = props;
  const existing = target.existing;
  return (
    <div className="jp-MLPipe-ExportTarget">
      <table className="jp-MLPipe-Facts">
        <tbody>
          <tr>
            <th>{trans.__('DAG id')}</th>
            <td data-field="dag_id">{target.dag_id}</td>
          </tr>
          <tr>
            <th>{trans.__('DAG file')}</th>
            <td data-field="dag_path">{target.dag_path}</td>
          </tr>
        </tbody>
      </table>
      {existing &&
        (existing.generated ? (
          <p
            className="jp-MLPipe-Problem jp-MLPipe-Problem-warning"
            data-existing="export"
          >
            {existing.source && existing.source !== pipeline
              ? trans.__(
                  'This file holds an export of %1, another pipeline with the same DAG id. Exporting replaces it.',
                  existing.source
                )
              : trans.__(
                  'This file holds an earlier export of this pipeline. Exporting replaces it (unless nothing changed).'
                )}
          </p>
        ) : (
          <p className="jp-MLPipe-Problem" data-existing="foreign">
            {trans.__(
              'A file that mlpipe-lab did not write is at this path, so nothing will be exported: move it away, or give the pipeline another DAG id (Pipeline properties).'
            )}
          </p>
        ))}
    </div>
  );
}

/** Ask before replacing an earlier export (after the server refused to replace it unasked). */
async function confirmReplace(
  error: MLPipeRequestError,
  trans: TranslationBundle
): Promise<boolean> {
  const path = String(error.details.dag_path ?? '');
  const source =
    typeof error.details.source === 'string' ? error.details.source : null;
  const answer = await showDialog({
    title: trans.__('Replace the earlier export?'),
    body: source
      ? trans.__(
          '%1 holds an earlier export of %2. Replace it with this export?',
          path,
          source
        )
      : trans.__('%1 holds an earlier export. Replace it?', path),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Replace') })
    ],
    defaultButton: 0
  });
  return answer.button.accept;
}

/**
 * Export the pipeline as an Airflow DAG into the `dags` folder beside it and
 * open the DAG. The dialog shows the DAG id and file first; an earlier export
 * is replaced only when the user said so, a file mlpipe-lab did not write never.
 * Returns the result, or null when cancelled or failed (the user was told why).
 */
export async function exportPipeline(
  editor: IPipelineEditor,
  options: IRunOptions
): Promise<MLPipeAPI.IExportResult | null> {
  const { trans } = options;
  const pipeline = basename(editor.context.path);
  let target: MLPipeAPI.IExportTarget | null = null;
  try {
    target = await MLPipeClient.exportTarget(
      editor.context.path,
      editor.editorModel.toString()
    );
  } catch {
    // an unreadable pipeline: the export itself says what is wrong
  }
  const blocked = !!target?.existing && !target.existing.generated;
  // Seeing that an earlier export is there and choosing "Export and replace" is the consent.
  let overwrite = !!target?.existing?.generated;
  const choice: IImageChoice = { image: '' };
  const image = options.runtimeConfig
    ? null
    : await imageNeed(editor, options.catalogs, choice, trans);
  const config =
    options.runtimeConfig ??
    (await chooseConfig(
      options.catalogs,
      trans.__('Export as Airflow DAG'),
      trans.__(
        'Writes the DAG file of "%1" and its node bundles into the dags folder beside it, with the settings of the runtime configuration below. Nothing is uploaded.',
        pipeline
      ),
      blocked
        ? null
        : overwrite
          ? trans.__('Export and Replace')
          : trans.__('Export'),
      trans,
      <>
        {image}
        {target && (
          <ExportTargetFacts
            target={target}
            pipeline={pipeline}
            trans={trans}
          />
        )}
      </>
    ));
  if (options.runtimeConfig) {
    overwrite = false; // no dialog was shown: ask if the server finds an earlier export
  }
  if (!config) {
    return null;
  }
  applyImage(editor, choice);
  if (!(await saveFirst(editor, trans))) {
    return null;
  }
  for (;;) {
    try {
      const result = await MLPipeClient.exportPipeline(
        editor.context.path,
        config,
        { overwrite }
      );
      editor.editorModel.setProblems(result.problems ?? []);
      options.openFile(result.dag_path);
      Notification.success(
        !result.changed
          ? trans.__(
              'DAG "%1" is up to date (%2)',
              result.dag_id,
              result.dag_path
            )
          : result.replaced
            ? trans.__(
                'Exported DAG "%1" to %2 (the earlier export was replaced)',
                result.dag_id,
                result.dag_path
              )
            : trans.__(
                'Exported DAG "%1" to %2',
                result.dag_id,
                result.dag_path
              ),
        { autoClose: 5000 }
      );
      return result;
    } catch (error) {
      if (
        error instanceof MLPipeRequestError &&
        error.code === 'output-exists' &&
        !overwrite
      ) {
        if (await confirmReplace(error, trans)) {
          overwrite = true;
          continue;
        }
        return null;
      }
      if (error instanceof MLPipeRequestError && error.problems.length) {
        editor.editorModel.setProblems(error.problems);
      }
      await showProblems(trans.__('Export failed'), error, trans);
      return null;
    }
  }
}

/** DAG id and where a submit with `config` commits it (asked of the server as the config changes). */
function SubmitTargetFacts(props: {
  path: string;
  content: string;
  config: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [state, setState] = React.useState<{
    target: MLPipeAPI.IExportTarget | null;
    error: string | null;
  }>({ target: null, error: null });
  React.useEffect(() => {
    let live = true;
    setState({ target: null, error: null });
    MLPipeClient.exportTarget(props.path, props.content, props.config)
      .then(target => live && setState({ target, error: null }))
      .catch(
        reason =>
          live &&
          setState({ target: null, error: describeError(reason).message })
      );
    return () => {
      live = false;
    };
  }, [props.path, props.content, props.config]);
  const { target, error } = state;
  if (error) {
    return <p className="jp-MLPipe-Problem">{error}</p>;
  }
  if (!target) {
    return <p className="jp-MLPipe-Hint">{trans.__('Loading…')}</p>;
  }
  const where = target.submit;
  return (
    <table className="jp-MLPipe-Facts jp-MLPipe-SubmitTarget">
      <tbody>
        <tr>
          <th>{trans.__('DAG id')}</th>
          <td data-field="dag_id">{target.dag_id}</td>
        </tr>
        {where && (
          <tr>
            <th>{trans.__('DAG file')}</th>
            <td data-field="submit_path">
              {where.repo === 'local'
                ? trans.__(
                    '%1 on branch %2 of the local DAG repository',
                    where.path,
                    where.branch
                  )
                : trans.__(
                    '%1 on branch %2 of %3',
                    where.path,
                    where.branch,
                    where.repo
                  )}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/** Ask before committing environment variables that look like secrets (the server refused them unasked). */
async function confirmPlainSecrets(
  error: MLPipeRequestError,
  trans: TranslationBundle
): Promise<boolean> {
  const names = [
    ...new Set(
      error.problems
        .map(p => p.extra?.env_var)
        .filter((n): n is string => typeof n === 'string')
    )
  ];
  const answer = await showDialog({
    title: trans.__('Commit plain-value secrets?'),
    body: (
      <div className="jp-MLPipe-PlainSecrets">
        <p>
          {trans._n(
            "%2 looks like a secret but has a plain value. Submitting commits it to the DAG repository, in the DAG file: everyone who can read the repository (and Airflow's UI) can read it.",
            "%2 look like secrets but have plain values. Submitting commits them to the DAG repository, in the DAG file: everyone who can read the repository (and Airflow's UI) can read them.",
            names.length || 1,
            names.join(', ') || trans.__('An environment variable')
          )}
        </p>
        <p>
          {trans.__('To keep a value secret, make it a Kubernetes secret:')}
        </p>
        <ol>
          <li>
            {trans.__(
              'create the Secret in the cluster, e.g. kubectl create secret generic db-creds --from-literal=password=…'
            )}
          </li>
          <li>
            {trans.__(
              'in the node properties, remove the variable from Environment variables and add it under Kubernetes secrets: the variable name, the Secret name (db-creds) and its key (password).'
            )}
          </li>
        </ol>
      </div>
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Submit Anyway') })
    ],
    defaultButton: 0 // Enter does not commit a secret
  });
  return answer.button.accept;
}

/** Dialog body: what a publish did. */
function SubmitResultBody(props: {
  result: MLPipeAPI.ISubmitResult;
  trans: TranslationBundle;
}): JSX.Element {
  const { result, trans } = props;
  const links = Object.entries(result.links ?? {}).filter(
    ([, url]) => typeof url === 'string' && url
  );
  return (
    <div className="jp-MLPipe-SubmitResult">
      <table className="jp-MLPipe-Facts">
        <tbody>
          <tr>
            <th>{trans.__('DAG')}</th>
            <td>{result.dag_id}</td>
          </tr>
          <tr>
            <th>{trans.__('Commit')}</th>
            <td className="jp-MLPipe-Commit">
              {result.commit ??
                trans.__(
                  'none (the DAG in the repository was already up to date)'
                )}
            </td>
          </tr>
          <tr>
            <th>{trans.__('Branch')}</th>
            <td>{result.branch}</td>
          </tr>
          <tr>
            <th>{trans.__('File')}</th>
            <td>{result.path}</td>
          </tr>
          {result.uploaded !== undefined && (
            <tr>
              <th>{trans.__('Files uploaded')}</th>
              <td>
                {trans.__(
                  '%1 uploaded, %2 already there',
                  result.uploaded.length,
                  result.reused?.length ?? 0
                )}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {links.length > 0 && (
        <ul className="jp-MLPipe-Links">
          {links.map(([name, url]) => (
            <li key={name}>
              <a href={url} target="_blank" rel="noopener noreferrer">
                {name === 'commit'
                  ? trans.__('View the commit')
                  : name === 'dag'
                    ? trans.__('Open the DAG in Airflow')
                    : name}
              </a>
            </li>
          ))}
        </ul>
      )}
      <h4>{trans.__('Steps')}</h4>
      <ol className="jp-MLPipe-Steps">
        {(result.steps ?? []).map((step, i) => (
          <li key={i} data-status={step.status}>
            <span className="jp-MLPipe-Step-name">{step.step}</span>{' '}
            <span className="jp-MLPipe-Step-status">{step.status}</span>
            {step.message && (
              <div className="jp-MLPipe-Step-message">{step.message}</div>
            )}
          </li>
        ))}
      </ol>
      {(result.problems ?? []).length > 0 && (
        <ProblemsBody
          message={trans.__('Warnings:')}
          problems={result.problems!}
          trans={trans}
        />
      )}
    </div>
  );
}

/**
 * Publish the pipeline: upload its files and commit its DAG with a runtime
 * configuration, then show the steps, the commit and the links.
 */
export async function submitPipeline(
  editor: IPipelineEditor,
  options: IRunOptions
): Promise<MLPipeAPI.ISubmitResult | null> {
  const { trans } = options;
  const choice: IImageChoice = { image: '' };
  const image = options.runtimeConfig
    ? null
    : await imageNeed(editor, options.catalogs, choice, trans);
  const content = editor.editorModel.toString();
  const config =
    options.runtimeConfig ??
    (await chooseConfig(
      options.catalogs,
      trans.__('Submit pipeline'),
      trans.__(
        'Submits "%1": its files are uploaded and its DAG is committed to the DAG repository of the runtime configuration below.',
        basename(editor.context.path)
      ),
      trans.__('Submit'),
      trans,
      (name: string) => (
        <>
          {image}
          <SubmitTargetFacts
            path={editor.context.path}
            content={content}
            config={name}
            trans={trans}
          />
        </>
      )
    ));
  if (!config) {
    return null;
  }
  applyImage(editor, choice);
  if (!(await saveFirst(editor, trans))) {
    return null;
  }
  const consent = { allowPlainSecrets: false, replace: false };
  for (;;) {
    const result = await submitOnce(editor, options, config, consent);
    if (result === 'plain-secrets') {
      consent.allowPlainSecrets = true;
    } else if (result === 'replace') {
      consent.replace = true;
    } else {
      return result;
    }
  }
}

/**
 * The DAG id is another pipeline file's in the DAG repository (the server
 * refused to replace its DAG): say whose, and offer the ways out.
 * 'replace' when the user says this is the same pipeline, moved or renamed.
 */
async function resolveTakenDagId(
  editor: IPipelineEditor,
  error: MLPipeRequestError,
  trans: TranslationBundle
): Promise<'replace' | null> {
  const details = error.details;
  const dagId = String(details.dag_id ?? '');
  const other =
    typeof details.published_from === 'string' ? details.published_from : null;
  const answer = await showDialog({
    title: trans.__('DAG id "%1" is taken', dagId),
    body: (
      <div className="jp-MLPipe-DagIdTaken">
        <p>{error.message}</p>
        <p>
          {other
            ? trans.__(
                'Submitting would replace the DAG of %1. Give this pipeline its own DAG id, or, if it is the same pipeline moved or renamed, replace it.',
                other
              )
            : trans.__(
                'Submitting would replace a DAG file that mlpipe-lab did not submit. Give this pipeline its own DAG id.'
              )}
        </p>
      </div>
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Set Another DAG Id') }),
      ...(other ? [Dialog.warnButton({ label: trans.__('Replace It') })] : [])
    ],
    defaultButton: 1
  });
  if (!answer.button.accept) {
    return null;
  }
  if (answer.button.displayType === 'warn') {
    return 'replace';
  }
  // the DAG id field of the pipeline tab, marked with the server's problem
  editor.editorModel.setProblems(error.problems);
  editor.propertiesVisible = true;
  requestAnimationFrame(() => {
    const tab = editor.node.querySelector<HTMLElement>(
      '.jp-MLPipe-Properties-tabs [role="tab"]:nth-child(2)'
    );
    tab?.click();
    requestAnimationFrame(() =>
      editor.node
        .querySelector<HTMLInputElement>('input[id$="-pipeline_mlpipe_dag_id"]')
        ?.focus()
    );
  });
  return null;
}

/** One submit call and its dialogs; 'plain-secrets' when the user agreed to commit them. */
async function submitOnce(
  editor: IPipelineEditor,
  options: IRunOptions,
  config: string,
  consent: { allowPlainSecrets: boolean; replace: boolean }
): Promise<MLPipeAPI.ISubmitResult | null | 'plain-secrets' | 'replace'> {
  const { trans } = options;
  const pending = MLPipeClient.submitPipeline(
    editor.context.path,
    config,
    consent
  );
  const name = editor.context.localPath;
  const note = Notification.emit(
    trans.__('Submitting %1…', name),
    'in-progress',
    {
      autoClose: false
    }
  );
  const settle = (type: 'success' | 'error' | null, message = '') => {
    Notification.dismiss(note);
    if (type) {
      Notification.emit(message, type, { autoClose: 3000 });
    }
  };
  try {
    const result = await pending;
    settle('success', trans.__('Submitted %1', name));
    editor.editorModel.setProblems(result.problems ?? []);
    const entry = (
      await options.catalogs
        .ensure<MLPipeAPI.IRuntimeConfig>('runtime-configs')
        .catch(() => [])
    ).find(c => c.name === config);
    const followUps = options.followUps
      .list()
      .filter(f => f.applies(entry, result));
    const answer = await showDialog({
      title: trans.__('Pipeline submitted'),
      body: ReactWidget.create(
        <SubmitResultBody result={result} trans={trans} />
      ),
      buttons: [
        ...followUps.map(f => Dialog.okButton({ label: f.label })),
        Dialog.cancelButton({ label: trans.__('Close') })
      ]
    });
    const chosen = followUps.find(f => f.label === answer.button.label);
    if (chosen && answer.button.accept) {
      await chosen.run(editor, result, config);
    }
    return result;
  } catch (error) {
    if (
      error instanceof MLPipeRequestError &&
      error.code === 'plain-secrets' &&
      !consent.allowPlainSecrets
    ) {
      settle(null); // not a failure: a question
      return (await confirmPlainSecrets(error, trans)) ? 'plain-secrets' : null;
    }
    if (
      error instanceof MLPipeRequestError &&
      error.code === 'dag-id-taken' &&
      !consent.replace
    ) {
      settle(null);
      return resolveTakenDagId(editor, error, trans);
    }
    settle('error', trans.__('Submitting %1 failed', name));
    if (error instanceof MLPipeRequestError && error.problems.length) {
      editor.editorModel.setProblems(error.problems);
    }
    await showProblems(trans.__('Submit failed'), error, trans);
    return null;
  }
}
