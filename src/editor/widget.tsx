/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The pipeline editor document widget: a canvas and a properties panel on a
 * JupyterLab document context whose text is the serialised pipeline, so save,
 * revert, rename, dirty state and close-with-unsaved-changes work like any document.
 */

import { ReactWidget } from '@jupyterlab/apputils';
import {
  ABCWidgetFactory,
  DocumentRegistry,
  DocumentWidget
} from '@jupyterlab/docregistry';
import type { IDocumentManager } from '@jupyterlab/docmanager';
import type { Contents } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { ReactFlowProvider } from '@xyflow/react';
import * as React from 'react';

import { MLPipeClient } from '../api';
import { nodePosition } from '../model/elyra';
import { message, renderMessage } from '../model/messages';
import { layoutLeftToRight } from '../model/layout';
import { IContentChange, PipelineEditorModel } from '../model/model';
import type {
  ICatalogStore,
  IFormWidgetRegistry,
  INodeTypeRegistry,
  IPipelineEditor,
  MLPipeAPI
} from '../tokens';
import {
  ICanvasHandle,
  NODE_HEIGHT,
  NODE_WIDTH,
  PipelineCanvas,
  useModelTick
} from './canvas';
import { NodeDecorations } from './decorations';
import { nameAfterRename, nameOfAnotherFile } from './naming';
import { opForFile } from './nodeTypes';
import { togglePaletteGroup } from './paletteState';
import { PropertiesPanel } from './properties';

/** User settings of the editor (from `schema/editor.json`). */
export interface IEditorSettings {
  /** Milliseconds between the last edit and live validation; 0 turns it off. */
  validationDelay: number;
  showMinimap: boolean;
  snapToGrid: boolean;
  /** Whether new editors show the properties panel. */
  propertiesOpen: boolean;
  /** Whether the node palette is folded to a narrow strip (toggled in the editor, kept per user). */
  paletteCollapsed: boolean;
  /** Palette groups (categories) folded by clicking their heading. */
  paletteClosedGroups: string[];
}

/** Defaults of the editor settings. */
export const DEFAULT_EDITOR_SETTINGS: IEditorSettings = {
  validationDelay: 800,
  showMinimap: true,
  snapToGrid: false,
  propertiesOpen: true,
  paletteCollapsed: false,
  paletteClosedGroups: []
};

/** Live settings shared by all editors. */
export class EditorSettings {
  get changed(): ISignal<this, IEditorSettings> {
    return this._changed;
  }
  get current(): IEditorSettings {
    return this._current;
  }
  update(value: Partial<IEditorSettings>): void {
    this._current = { ...this._current, ...value };
    this._changed.emit(this._current);
  }
  /** Change settings the user toggled in the editor, and keep them (see `persist`). */
  save(value: Partial<IEditorSettings>): void {
    this.update(value);
    this.persist?.(value);
  }
  /** Writes user-toggled settings to the user's settings (set by the plugin). */
  persist: ((value: Partial<IEditorSettings>) => void) | null = null;
  private _current = { ...DEFAULT_EDITOR_SETTINGS };
  private _changed = new Signal<this, IEditorSettings>(this);
}

let instances = 0;

/** The content of the document widget: canvas plus properties panel. */
export class PipelineEditorView extends ReactWidget {
  constructor(options: PipelineEditorView.IOptions) {
    super();
    this.addClass('jp-MLPipe-Editor');
    this.model = options.model;
    this.decorations = options.decorations;
    this._trans = options.trans;
    this._registries = options.registries;
    this._docManager = options.docManager;
    this._settings = options.settings;
    this._onOpenFile = options.onOpenFile;
    this._onOpenAsText = options.onOpenAsText;
    this._propertiesVisible = options.settings.current.propertiesOpen;
    this._idPrefix = `mlpipe-editor-${++instances}`;
    this._settings.changed.connect(this.update, this);
  }

  readonly model: PipelineEditorModel;

  /** Badges on the nodes (e.g. a run's task states). */
  readonly decorations: NodeDecorations;

  /** Filled in by the canvas once it is rendered. */
  readonly canvas: { current: ICanvasHandle | null } = { current: null };

  /** Emitted when the properties panel is shown or hidden. */
  get propertiesToggled(): ISignal<this, boolean> {
    return this._propertiesToggled;
  }

  get propertiesVisible(): boolean {
    return this._propertiesVisible;
  }
  set propertiesVisible(value: boolean) {
    if (value !== this._propertiesVisible) {
      this._propertiesVisible = value;
      this.update();
      this._propertiesToggled.emit(value);
    }
  }

  /**
   * Set when the pipeline is named like another pipeline file beside it (e.g.
   * the file it was copied from): both would get the same DAG id.
   */
  get nameWarning(): INameWarning | null {
    return this._nameWarning;
  }
  set nameWarning(value: INameWarning | null) {
    if (value && value.name === this._keptName) {
      value = null; // the user chose to keep this name
    }
    if (JSON.stringify(value) !== JSON.stringify(this._nameWarning)) {
      this._nameWarning = value;
      this.update();
    }
  }

  /** Whether the document's text was loaded. */
  get ready(): boolean {
    return this._ready;
  }
  set ready(value: boolean) {
    this._ready = value;
    this.update();
  }

  dispose(): void {
    this._settings.changed.disconnect(this.update, this);
    super.dispose();
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    const canvas = this.node.querySelector<HTMLElement>('.jp-MLPipe-Canvas');
    if (canvas && !canvas.contains(document.activeElement)) {
      canvas.focus();
    }
  }

  render(): JSX.Element {
    return (
      <EditorRoot
        model={this.model}
        decorations={this.decorations}
        registries={this._registries}
        trans={this._trans}
        ready={this._ready}
        settings={this._settings.current}
        propertiesVisible={this._propertiesVisible}
        docManager={this._docManager}
        canvas={this.canvas}
        idPrefix={this._idPrefix}
        onOpenFile={this._onOpenFile}
        onOpenAsText={this._onOpenAsText}
        onCloseProperties={() => (this.propertiesVisible = false)}
        onTogglePalette={() =>
          this._settings.save({
            paletteCollapsed: !this._settings.current.paletteCollapsed
          })
        }
        onTogglePaletteGroup={group =>
          this._settings.save({
            paletteClosedGroups: togglePaletteGroup(
              this._settings.current.paletteClosedGroups,
              group
            )
          })
        }
        nameWarning={this._nameWarning}
        onNameWarning={keep => {
          const warning = this._nameWarning;
          this.nameWarning = null;
          if (keep && warning) {
            this._keptName = warning.name;
          } else if (warning) {
            this.model.setPipelineData({
              properties: { name: warning.suggested }
            });
          }
        }}
      />
    );
  }

  private _trans: TranslationBundle;
  private _registries: IEditorRegistries;
  private _docManager: IDocumentManager | null;
  private _settings: EditorSettings;
  private _onOpenFile: (path: string) => void;
  private _onOpenAsText: () => void;
  private _propertiesVisible: boolean;
  private _ready = false;
  private _nameWarning: INameWarning | null = null;
  private _keptName: string | null = null;
  private _idPrefix: string;
  private _propertiesToggled = new Signal<this, boolean>(this);
}

/** A pipeline named like another pipeline file beside it. */
export interface INameWarning {
  /** The pipeline's name. */
  name: string;
  /** The other file of that name. */
  other: string;
  /** The name of this file. */
  suggested: string;
}

/** The extension points an editor draws from (see `tokens.ts`). */
export interface IEditorRegistries {
  nodeTypes: INodeTypeRegistry;
  formWidgets: IFormWidgetRegistry;
  catalogs: ICatalogStore;
}

/** Options of the editor view. */
export namespace PipelineEditorView {
  export interface IOptions {
    model: PipelineEditorModel;
    decorations: NodeDecorations;
    registries: IEditorRegistries;
    trans: TranslationBundle;
    settings: EditorSettings;
    docManager: IDocumentManager | null;
    onOpenFile: (path: string) => void;
    onOpenAsText: () => void;
  }
}

function EditorRoot(props: {
  model: PipelineEditorModel;
  decorations: NodeDecorations;
  registries: IEditorRegistries;
  trans: TranslationBundle;
  ready: boolean;
  settings: IEditorSettings;
  propertiesVisible: boolean;
  docManager: IDocumentManager | null;
  canvas: { current: ICanvasHandle | null };
  idPrefix: string;
  onOpenFile: (path: string) => void;
  onOpenAsText: () => void;
  onCloseProperties: () => void;
  onTogglePalette: () => void;
  onTogglePaletteGroup: (group: string) => void;
  nameWarning: INameWarning | null;
  /** `keep`: leave the name; else name the pipeline after its file. */
  onNameWarning: (keep: boolean) => void;
}): JSX.Element {
  const { model, trans } = props;
  useModelTick(model);
  if (!props.ready) {
    return <div className="jp-MLPipe-Placeholder">{trans.__('Loading…')}</div>;
  }
  if (model.errorMessage) {
    return (
      <div className="jp-MLPipe-LoadError" role="alert">
        <h3>{trans.__('This file cannot be shown as a pipeline')}</h3>
        <p>{renderMessage(model.errorMessage, trans)}</p>
        <p>
          {trans.__(
            'Fix the file in the text editor; the pipeline editor shows it again once it is a valid pipeline.'
          )}
        </p>
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept"
          onClick={props.onOpenAsText}
        >
          {trans.__('Open in the text editor')}
        </button>
      </div>
    );
  }
  const warning = props.nameWarning;
  return (
    <>
      {warning && (
        <div
          className="jp-MLPipe-NameWarning jp-MLPipe-Problem jp-MLPipe-Problem-warning"
          role="alert"
        >
          <span>
            {trans.__(
              'This pipeline is named "%1", like %2 beside it: both would get the same DAG id and replace each other when exported or submitted.',
              warning.name,
              warning.other
            )}
          </span>
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept"
            onClick={() => props.onNameWarning(false)}
          >
            {trans.__('Name it "%1"', warning.suggested)}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-reject"
            onClick={() => props.onNameWarning(true)}
          >
            {trans.__('Keep the name')}
          </button>
        </div>
      )}
      <div className="jp-MLPipe-Canvas" tabIndex={-1}>
        <ReactFlowProvider>
          <PipelineCanvas
            model={model}
            trans={trans}
            nodeTypes={props.registries.nodeTypes}
            decorations={props.decorations}
            showMinimap={props.settings.showMinimap}
            snapToGrid={props.settings.snapToGrid}
            paletteCollapsed={props.settings.paletteCollapsed}
            paletteClosedGroups={props.settings.paletteClosedGroups}
            onTogglePalette={props.onTogglePalette}
            onTogglePaletteGroup={props.onTogglePaletteGroup}
            onOpenFile={props.onOpenFile}
            handle={props.canvas}
          />
        </ReactFlowProvider>
      </div>
      {props.propertiesVisible && (
        <PropertiesPanel
          model={model}
          registries={props.registries}
          trans={trans}
          docManager={props.docManager}
          idPrefix={props.idPrefix}
          onClose={props.onCloseProperties}
        />
      )}
    </>
  );
}

/** The pipeline editor: a document widget on the text model of the `.pipeline` file. */
export class PipelineEditorWidget
  extends DocumentWidget<PipelineEditorView, DocumentRegistry.ICodeModel>
  implements IPipelineEditor
{
  constructor(options: PipelineEditorWidget.IOptions) {
    const { nodeTypes } = options.registries;
    const model = new PipelineEditorModel({
      path: options.context.path,
      opForPath: path => opForFile(nodeTypes, path)
    });
    const content = new PipelineEditorView({
      model,
      decorations: new NodeDecorations(),
      registries: options.registries,
      trans: options.trans,
      settings: options.settings,
      docManager: options.docManager,
      onOpenFile: options.onOpenFile,
      onOpenAsText: () => options.onOpenAsText(options.context.path)
    });
    super({ context: options.context, content });
    this.addClass('jp-MLPipe-EditorWidget');
    this._settings = options.settings;
    this.editorModel = model;
    void this.context.ready.then(() => {
      if (this.isDisposed) {
        return;
      }
      this._text = this.context.model.toString();
      this._savedText = this._text;
      model.fromString(this._text);
      this.context.saveState.connect((_, state) => {
        if (state === 'completed') {
          this._savedText = this.context.model.toString();
        }
      });
      content.ready = true;
      this.context.model.contentChanged.connect(this._onTextChanged, this);
      model.contentChanged.connect(this._onModelChanged, this);
      this._scheduleValidation();
    });
    this._contents = options.contents ?? null;
    // validation follows the world: a node's file deleted or renamed, a
    // runtime configuration or image edited
    this._contents?.fileChanged.connect(this._onFileChanged, this);
    options.registries.catalogs.changed.connect(this._onCatalogChanged, this);
    void this.context.ready.then(() => this._checkName(true));
    this.context.pathChanged.connect((_, path) => {
      const oldPath = model.path;
      model.path = path;
      this._followFileName(oldPath, path);
      this._scheduleValidation();
      this._checkName(true);
    });
  }

  /** The editor model (graph, selection, history, problems). */
  readonly editorModel: PipelineEditorModel;

  get decorations(): NodeDecorations {
    return this.content.decorations;
  }

  /** Emitted after each validation with its result. */
  get validated(): ISignal<this, MLPipeAPI.IValidationResult> {
    return this._validated;
  }

  get propertiesVisible(): boolean {
    return this.content.propertiesVisible;
  }
  set propertiesVisible(value: boolean) {
    this.content.propertiesVisible = value;
  }

  /** Validate the current text, saved or not; problems go to the model. */
  async validate(): Promise<MLPipeAPI.IValidationResult | null> {
    clearTimeout(this._timer);
    if (this.editorModel.error || !this.context.path) {
      return null;
    }
    const request = ++this._request;
    try {
      const result = await MLPipeClient.validate(
        this.context.path,
        this.editorModel.toString()
      );
      if (request === this._request && !this.isDisposed) {
        this.editorModel.setProblems(result.problems ?? []);
        this._validated.emit(result);
      }
      return result;
    } catch (reason) {
      console.warn('mlpipe-lab: validation failed', reason);
      return null;
    }
  }

  /** Lay the nodes out left to right (one undo step), then fit the view. */
  async autoLayout(): Promise<void> {
    const model = this.editorModel;
    const nodes = model.nodes;
    if (!nodes.length) {
      model.announce(message('There are no nodes to lay out.'));
      return;
    }
    const sizes = this.content.canvas.current?.sizes() ?? new Map();
    const origin = {
      x: Math.min(...nodes.map(n => nodePosition(n).x)),
      y: Math.min(...nodes.map(n => nodePosition(n).y))
    };
    const positions = await layoutLeftToRight(
      nodes.map(n => ({
        id: n.id,
        width: sizes.get(n.id)?.width ?? NODE_WIDTH,
        height: sizes.get(n.id)?.height ?? NODE_HEIGHT
      })),
      model.links,
      { origin }
    );
    model.moveItems(Object.fromEntries(positions), {
      label: message('Auto-layout')
    });
    requestAnimationFrame(() => this.fitView());
  }

  fitView(): void {
    this.content.canvas.current?.fitView();
  }

  /** Give the keyboard to the canvas (e.g. after the focused node was deleted). */
  focusCanvas(): void {
    const canvas =
      this.content.node.querySelector<HTMLElement>('.jp-MLPipe-Canvas');
    const active = document.activeElement;
    if (
      canvas &&
      (!active || active === document.body || canvas.contains(active))
    ) {
      canvas.focus({ preventScroll: true });
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    clearTimeout(this._timer);
    this.editorModel.dispose();
    super.dispose();
  }

  /** The document's text changed (revert, reload, another view): show it. */
  private _onTextChanged(): void {
    const text = this.context.model.toString();
    if (text === this._text) {
      return;
    }
    this._text = text;
    this.editorModel.fromString(text);
    if (text === this._savedText) {
      // reverted to the file on disk
      this.context.model.dirty = false;
    }
    this._scheduleValidation();
  }

  /** The graph changed: write its text to the document (marks it dirty). */
  private _onModelChanged(_: unknown, change: IContentChange): void {
    if (change.kind === 'load') {
      return;
    }
    this._text = this.editorModel.toString();
    this.context.model.fromString(this._text);
    // the shared model does not flag programmatic changes as unsaved; undoing
    // back to the saved text makes the document clean again
    this.context.model.dirty = this._text !== this._savedText;
    this._scheduleValidation();
  }

  private _scheduleValidation(relist = false): void {
    clearTimeout(this._timer);
    const delay = this._settings.current.validationDelay;
    if (delay > 0) {
      this._relist ||= relist;
      this._timer = setTimeout(() => {
        void this.validate();
        this._checkName(this._relist);
        this._relist = false;
      }, delay);
    }
  }

  /** The file was renamed (or saved as): a name that followed the file follows it again. */
  private _followFileName(oldPath: string, path: string): void {
    const raw = this.editorModel.pipelineData().properties?.name;
    if (typeof raw !== 'string' || this.editorModel.error) {
      return; // no name stored: it is the file's name already
    }
    const next = nameAfterRename(raw, oldPath, path);
    if (!next) {
      return;
    }
    const wasClean = !this.context.model.dirty;
    this.editorModel.setPipelineData({ properties: { name: next } });
    if (wasClean) {
      // the file on disk says the new name too, as it would have after a rename in Elyra
      void this.context.save();
    }
  }

  /** A file of the pipeline's folder (or below) was added, renamed or deleted. */
  private _onFileChanged(_: unknown, change: Contents.IChangedArgs): void {
    if (
      this.isDisposed ||
      (change.type !== 'new' &&
        change.type !== 'delete' &&
        change.type !== 'rename')
    ) {
      return;
    }
    const folder = this.editorModel.folder;
    const inside = (path: string | undefined) =>
      typeof path === 'string' &&
      path !== this.context.path &&
      (folder === '' || path.startsWith(`${folder}/`));
    if (inside(change.oldValue?.path) || inside(change.newValue?.path)) {
      this._siblings = null;
      this._scheduleValidation(true);
    }
  }

  /** A catalog changed: runtime configurations and images decide problems too. */
  private _onCatalogChanged(_: unknown, kind: string): void {
    if (kind === 'runtime-configs' || kind === 'runtime-images') {
      this._scheduleValidation();
    }
  }

  /** Warn when the pipeline is named like another pipeline file beside it. */
  private _checkName(relist: boolean): void {
    const contents = this._contents;
    if (!contents || this.editorModel.error || this.isDisposed) {
      return;
    }
    const check = (siblings: readonly string[]) => {
      if (this.isDisposed) {
        return;
      }
      const name = this.editorModel.name;
      const other = nameOfAnotherFile(name, this.context.path, siblings);
      this.content.nameWarning = other
        ? {
            name,
            other,
            suggested: this.context.path
              .slice(this.context.path.lastIndexOf('/') + 1)
              .replace(/\.pipeline$/i, '')
          }
        : null;
    };
    if (!relist && this._siblings) {
      check(this._siblings);
      return;
    }
    const folder = this.editorModel.folder;
    contents
      .get(folder, { content: true })
      .then(model => {
        this._siblings = ((model.content ?? []) as Contents.IModel[])
          .filter(item => item.type !== 'directory')
          .map(item => item.name);
        check(this._siblings);
      })
      .catch(() => undefined); // no listing, no warning
  }

  private _settings: EditorSettings;
  private _contents: Contents.IManager | null;
  private _siblings: string[] | null = null;
  private _relist = false;
  private _text = '';
  private _savedText = '';
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _request = 0;
  private _validated = new Signal<this, MLPipeAPI.IValidationResult>(this);
}

/** Options of the editor widget. */
export namespace PipelineEditorWidget {
  export interface IOptions {
    context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>;
    registries: IEditorRegistries;
    trans: TranslationBundle;
    settings: EditorSettings;
    docManager: IDocumentManager | null;
    /** To list the pipeline's folder (names taken from another file). */
    contents?: Contents.IManager | null;
    /** Open a file by its path from the server root. */
    onOpenFile: (path: string) => void;
    /** Open the pipeline in the text editor. */
    onOpenAsText: (path: string) => void;
  }
}

/** Creates pipeline editors for `.pipeline` files. */
export class PipelineEditorFactory extends ABCWidgetFactory<
  PipelineEditorWidget,
  DocumentRegistry.ICodeModel
> {
  constructor(options: PipelineEditorFactory.IOptions) {
    super(options);
    this._options = options;
  }

  protected createNewWidget(
    context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>
  ): PipelineEditorWidget {
    return new PipelineEditorWidget({
      context,
      registries: this._options.registries,
      trans: this._options.trans,
      settings: this._options.settings,
      docManager: this._options.docManager,
      contents: this._options.contents,
      onOpenFile: this._options.onOpenFile,
      onOpenAsText: this._options.onOpenAsText
    });
  }

  private _options: PipelineEditorFactory.IOptions;
}

export namespace PipelineEditorFactory {
  export interface IOptions
    extends
      DocumentRegistry.IWidgetFactoryOptions<PipelineEditorWidget>,
      Omit<PipelineEditorWidget.IOptions, 'context'> {}
}
