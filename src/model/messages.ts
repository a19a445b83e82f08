/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * User-facing messages of the UI-free model. The model cannot translate (it
 * knows no `TranslationBundle`), so it returns the English msgid and its
 * arguments; the UI renders them through its bundle. The msgids are written
 * literally at each call of `message`/`plural` so gettext extraction finds them.
 */

/** The part of a `TranslationBundle` the messages need. */
export interface IMessageTranslator {
  __(msgid: string, ...args: any[]): string;
  _n(msgid: string, msgidPlural: string, n: number, ...args: any[]): string;
}

/** A message of the model: msgid (`%1`, `%2`... placeholders) and arguments. */
export interface IModelMessage {
  /** The English msgid, the key of the translation catalog. */
  readonly id: string;
  /** The plural msgid; then `%1` is `n` and the arguments start at `%2`. */
  readonly plural?: string;
  readonly n?: number;
  readonly args: readonly (string | number)[];
  /** Already translated (or not translatable, e.g. a server's text): shown as is. */
  readonly verbatim?: boolean;
}

/** A message with arguments for `%1`, `%2`... */
export function message(
  id: string,
  ...args: (string | number)[]
): IModelMessage {
  return { id, args };
}

/** A message with a plural form: `%1` is `n`, `args` fill `%2`... */
export function plural(
  id: string,
  pluralId: string,
  n: number,
  ...args: (string | number)[]
): IModelMessage {
  return { id, plural: pluralId, n, args };
}

/** Text shown as is (already translated by the caller). */
export function verbatim(text: string): IModelMessage {
  return { id: text, args: [], verbatim: true };
}

/** Whether `value` is a model message. */
export function isModelMessage(value: unknown): value is IModelMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IModelMessage).id === 'string' &&
    Array.isArray((value as IModelMessage).args)
  );
}

/** Substitute `%1`, `%2`... like JupyterLab's gettext does for untranslated text. */
function substitute(text: string, args: readonly (string | number)[]): string {
  return text.replace(/%(\d+)/g, (match, index) => {
    const value = args[Number(index) - 1];
    return value === undefined ? match : String(value);
  });
}

/** English rendering (no catalog): the msgid with its arguments. */
export const ENGLISH: IMessageTranslator = {
  __: (msgid, ...args) => substitute(msgid, args),
  _n: (msgid, msgidPlural, n, ...args) =>
    substitute(n === 1 ? msgid : msgidPlural, [n, ...args])
};

/** Render a message through a translation bundle (English when none is given). */
export function renderMessage(
  value: IModelMessage | string,
  trans: IMessageTranslator = ENGLISH
): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value.verbatim) {
    return value.id;
  }
  if (value.plural !== undefined) {
    return trans._n(value.id, value.plural, value.n ?? 0, ...value.args);
  }
  return trans.__(value.id, ...value.args);
}
