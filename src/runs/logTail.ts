/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The text of a task's log as it grows: each poll asks for what follows the
 * offset the last reply ended at, so a long log is never fetched twice.
 */

import type { ILogChunk } from './types';

/** Most characters kept in the browser; older ones are dropped first. */
export const DEFAULT_MAX_CHARS = 2_000_000;

/** The kept text of a log, its next offset and whether it is complete. */
export class LogTail {
  constructor(options: { maxChars?: number } = {}) {
    this._maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  }

  /** The text received so far (the end of it, when it grew past the limit). */
  get text(): string {
    return this._text;
  }

  /** Where the next request starts. */
  get offset(): number {
    return this._offset;
  }

  /** Whether the server said the log will not grow any more. */
  get complete(): boolean {
    return this._complete;
  }

  /** Whether characters were dropped from the start to stay under the limit. */
  get truncated(): boolean {
    return this._truncated;
  }

  /**
   * Add the reply to a request made at `requestedAt` (the offset it was
   * asked from). Returns false when the reply does not follow the text we
   * have (a late reply to an older request), which is then ignored.
   *
   * The offset is the server's, passed back as it came (counted from the
   * text only when a reply lacks it).
   */
  append(chunk: ILogChunk, requestedAt: number): boolean {
    if (requestedAt !== this._offset) {
      return false;
    }
    const end = Number.isFinite(chunk.offset)
      ? chunk.offset
      : requestedAt + chunk.text.length;
    this._text += chunk.text;
    this._offset = end;
    this._complete = !!chunk.complete;
    if (this._text.length > this._maxChars) {
      const cut = this._text.length - this._maxChars;
      const cutMidLine = this._text[cut - 1] !== '\n';
      this._text = this._text.slice(cut);
      // drop a partial first line so the view starts on a line
      const newline = cutMidLine ? this._text.indexOf('\n') : -1;
      if (newline >= 0 && newline < 1000) {
        this._text = this._text.slice(newline + 1);
      }
      this._truncated = true;
    }
    return true;
  }

  /** Forget everything (a different task or try). */
  reset(): void {
    this._text = '';
    this._offset = 0;
    this._complete = false;
    this._truncated = false;
  }

  private _text = '';
  private _offset = 0;
  private _complete = false;
  private _truncated = false;
  private _maxChars: number;
}
