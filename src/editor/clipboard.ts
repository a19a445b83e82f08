/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import type { IClipboardFragment } from '../model/model';

/**
 * The nodes and comments last cut or copied in any pipeline editor of this page,
 * and how many times they were pasted (each paste lands a bit further away).
 */
export namespace PipelineClipboard {
  let fragment: IClipboardFragment | null = null;
  let pastes = 0;

  /** Remember a fragment; after a cut, the first paste lands where the items were. */
  export function set(value: IClipboardFragment, cut = false): void {
    fragment = value;
    pastes = cut ? -1 : 0;
  }

  export function get(): IClipboardFragment | null {
    return fragment;
  }

  /** The offset of the next paste. */
  export function nextOffset(): { x: number; y: number } {
    pastes++;
    return { x: 40 * pastes, y: 40 * pastes };
  }

  export function hasContent(): boolean {
    return !!fragment && fragment.nodes.length + fragment.comments.length > 0;
  }
}
