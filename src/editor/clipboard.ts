/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import type { IClipboardFragment } from '../model/model';

/** Marks our payload on the system clipboard. */
export const FRAGMENT_MIME = 'application/x-mlpipe-nodes+json';

/** The same as a web custom format (Chromium's async clipboard API needs the `web ` prefix). */
const WEB_FRAGMENT_MIME = `web ${FRAGMENT_MIME}`;

/** The text form of a fragment: a JSON envelope any text clipboard can carry. */
interface IEnvelope {
  mime: typeof FRAGMENT_MIME;
  version: 1;
  fragment: IClipboardFragment;
}

const isObject = (value: unknown): value is { [key: string]: unknown } =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A fragment as clipboard text. */
export function serializeFragment(fragment: IClipboardFragment): string {
  const envelope: IEnvelope = { mime: FRAGMENT_MIME, version: 1, fragment };
  return JSON.stringify(envelope);
}

/**
 * The fragment in clipboard text, or null for anything else (plain text,
 * other JSON, a damaged payload): pasting such text is silently ignored.
 */
export function parseFragment(text: string): IClipboardFragment | null {
  if (!text || text.length > 50_000_000 || !text.trimStart().startsWith('{')) {
    return null;
  }
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(envelope) || envelope.mime !== FRAGMENT_MIME) {
    return null;
  }
  const fragment = envelope.fragment;
  if (
    !isObject(fragment) ||
    fragment.kind !== 'mlpipe-lab/fragment' ||
    typeof fragment.folder !== 'string' ||
    !Array.isArray(fragment.nodes) ||
    !Array.isArray(fragment.comments)
  ) {
    return null;
  }
  // every item needs an id (paste gives it a fresh one) and to be an object
  const items = [...fragment.nodes, ...fragment.comments];
  if (!items.every(item => isObject(item) && typeof item.id === 'string')) {
    return null;
  }
  return fragment as unknown as IClipboardFragment;
}

/** The browser clipboard, or null where there is none (tests, insecure pages). */
function systemClipboard(): Clipboard | null {
  return typeof navigator !== 'undefined' && navigator.clipboard
    ? navigator.clipboard
    : null;
}

/**
 * The nodes and comments last cut or copied. They go to the system clipboard
 * (so another editor, browser tab or window can paste them) and are kept in
 * memory too, for when the page may not read the clipboard.
 */
export namespace PipelineClipboard {
  let fragment: IClipboardFragment | null = null;
  let text = '';
  let pastes = 0;

  /**
   * Remember a fragment and write it to the system clipboard; after a cut,
   * the first paste lands where the items were. Resolves to whether the system
   * clipboard took it.
   */
  export async function set(
    value: IClipboardFragment,
    cut = false
  ): Promise<boolean> {
    remember(value, cut);
    return writeSystem(text);
  }

  /** Remember a fragment in memory only. */
  function remember(value: IClipboardFragment, cut: boolean): void {
    fragment = value;
    text = serializeFragment(value);
    pastes = cut ? -1 : 0;
  }

  /** The in-memory fragment. */
  export function get(): IClipboardFragment | null {
    return fragment;
  }

  /**
   * The fragment to paste. The system clipboard decides when the page may read
   * it: its fragment (maybe copied in another tab), or null when it holds
   * anything else (other text is ignored, not an error). The in-memory fragment
   * is the fallback when the clipboard cannot be read (permission denied).
   */
  export async function read(): Promise<IClipboardFragment | null> {
    const system = await readSystem();
    if (system === undefined) {
      return fragment;
    }
    if (system === text) {
      return fragment;
    }
    const parsed = system === null ? null : parseFragment(system);
    if (parsed) {
      // new content from elsewhere: its first paste is offset once
      remember(parsed, false);
    }
    return parsed;
  }

  /** The offset of the next paste. */
  export function nextOffset(): { x: number; y: number } {
    pastes++;
    return { x: 40 * pastes, y: 40 * pastes };
  }

  /** Whether there is something to paste (in memory, or maybe on the system clipboard). */
  export function hasContent(): boolean {
    return (
      (!!fragment && fragment.nodes.length + fragment.comments.length > 0) ||
      systemClipboard() !== null
    );
  }

  /** Forget the in-memory fragment (tests). */
  export function clear(): void {
    fragment = null;
    text = '';
    pastes = 0;
  }

  async function writeSystem(payload: string): Promise<boolean> {
    const clipboard = systemClipboard();
    if (!clipboard) {
      return false;
    }
    // the JSON also as text/plain: other apps and browsers without web custom
    // formats still carry it
    if (typeof ClipboardItem !== 'undefined' && clipboard.write) {
      try {
        await clipboard.write([
          new ClipboardItem({
            'text/plain': new Blob([payload], { type: 'text/plain' }),
            [WEB_FRAGMENT_MIME]: new Blob([payload], { type: FRAGMENT_MIME })
          })
        ]);
        return true;
      } catch {
        // custom formats refused: text only below
      }
    }
    try {
      await clipboard.writeText(payload);
      return true;
    } catch {
      return false; // permission denied or page not focused: memory only
    }
  }

  /** The clipboard's text (null: nothing there), or undefined when it cannot be read. */
  async function readSystem(): Promise<string | null | undefined> {
    const clipboard = systemClipboard();
    if (!clipboard) {
      return undefined;
    }
    if (clipboard.read) {
      try {
        const items = await clipboard.read();
        for (const item of items) {
          for (const type of [WEB_FRAGMENT_MIME, 'text/plain']) {
            if (item.types.includes(type)) {
              return await (await item.getType(type)).text();
            }
          }
        }
        return null;
      } catch {
        // fall through to readText (some browsers only allow text)
      }
    }
    try {
      return await clipboard.readText();
    } catch {
      return undefined; // permission denied: the in-memory fragment it is
    }
  }
}
