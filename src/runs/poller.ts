/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * Poll the server until there is nothing left to wait for: the watcher says
 * stop (the run ended, the log is complete), too many calls in a row failed,
 * or the view went away. One call at a time; failures back off.
 */

import type { IDisposable } from '@lumino/disposable';

/** Why a poller stopped. */
export type StopReason = 'done' | 'failed' | 'stopped';

/** Options of a poller. */
export interface IPollerOptions<T> {
  /** One call to the server. */
  poll: () => Promise<T>;
  /** Milliseconds from the end of one call to the start of the next. */
  interval: number | (() => number);
  /** Each result; return true when there is nothing more to wait for. */
  onValue: (value: T) => boolean | void;
  /**
   * Each failure, with the number of failures in a row; return true to stop
   * at once (e.g. the run no longer exists).
   */
  onError?: (error: unknown, failures: number) => boolean | void;
  /** Called once when polling stops, with the reason. */
  onStop?: (reason: StopReason) => void;
  /** Failures in a row after which polling gives up (default 5). */
  maxFailures?: number;
  /** Longest wait between calls while failing (default 30 s). */
  maxInterval?: number;
}

/** Calls `poll` again and again until a stop condition holds. */
export class Poller<T> implements IDisposable {
  constructor(options: IPollerOptions<T>) {
    this._options = options;
  }

  /** Whether polling goes on (started and not stopped). */
  get running(): boolean {
    return this._started && !this._stopped;
  }

  /** Failures in a row so far. */
  get failures(): number {
    return this._failures;
  }

  /** Why polling stopped; null while it goes on. */
  get stopReason(): StopReason | null {
    return this._reason;
  }

  /** Whether it stopped, for whatever reason. */
  get isDisposed(): boolean {
    return this._stopped;
  }

  /** Start now (the first call is made at once). */
  start(): void {
    if (this._started || this._stopped) {
      return;
    }
    this._started = true;
    void this._tick();
  }

  /** Call again now instead of waiting for the interval. */
  refresh(): void {
    if (!this.running) {
      return;
    }
    if (this._inFlight) {
      this._again = true;
      return;
    }
    clearTimeout(this._timer);
    void this._tick();
  }

  /** Stop for good. */
  stop(): void {
    this._finish('stopped');
  }

  dispose(): void {
    this.stop();
  }

  private async _tick(): Promise<void> {
    if (this._stopped) {
      return;
    }
    this._inFlight = true;
    this._again = false;
    let value: T;
    try {
      value = await this._options.poll();
    } catch (error) {
      this._inFlight = false;
      if (this._stopped) {
        return;
      }
      this._failures++;
      const giveUp = this._options.onError?.(error, this._failures);
      if (giveUp || this._failures >= (this._options.maxFailures ?? 5)) {
        this._finish('failed');
        return;
      }
      this._schedule(this._backoff());
      return;
    }
    this._inFlight = false;
    if (this._stopped) {
      return;
    }
    this._failures = 0;
    if (this._options.onValue(value)) {
      this._finish('done');
      return;
    }
    this._schedule(this._again ? 0 : this._interval());
  }

  private _interval(): number {
    const { interval } = this._options;
    return Math.max(0, typeof interval === 'function' ? interval() : interval);
  }

  private _backoff(): number {
    const max = this._options.maxInterval ?? 30_000;
    return Math.min(max, this._interval() * 2 ** this._failures);
  }

  private _schedule(delay: number): void {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => void this._tick(), delay);
  }

  private _finish(reason: StopReason): void {
    if (this._stopped) {
      return;
    }
    this._stopped = true;
    this._reason = reason;
    clearTimeout(this._timer);
    this._options.onStop?.(reason);
  }

  private _options: IPollerOptions<T>;
  private _started = false;
  private _stopped = false;
  private _inFlight = false;
  private _again = false;
  private _failures = 0;
  private _reason: StopReason | null = null;
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
}
