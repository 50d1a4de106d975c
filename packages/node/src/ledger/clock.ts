/**
 * The clock the ledger runs on, injectable so that tests and simulations control time. `systemClock`
 * uses the process's timers; `ManualClock` advances only when told to and runs due work in order.
 */

/** Time and scheduling for the ledger. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` every `intervalMs`; returns a function that cancels it. */
  every(intervalMs: number, fn: () => void): () => void;
  /** Calls `fn` once after `delayMs`; returns a function that cancels it. */
  after(delayMs: number, fn: () => void): () => void;
  /** Calls `fn` soon, after the current work (I/O may run first). */
  defer(fn: () => void): void;
}

/** The process's clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  every(intervalMs, fn) {
    const handle = setInterval(fn, intervalMs);
    return () => clearInterval(handle);
  },
  after(delayMs, fn) {
    const handle = setTimeout(fn, delayMs);
    return () => clearTimeout(handle);
  },
  defer(fn) {
    setImmediate(fn);
  },
};

interface Timer {
  at: number;
  seq: number;
  intervalMs: number | null;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only through advance(); deferred work runs in runDeferred() or advance(). */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: Timer[] = [];
  private deferred: Array<() => void> = [];

  /** Starts at `startMs` (ms since the epoch). */
  constructor(startMs: number) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  every(intervalMs: number, fn: () => void): () => void {
    return this.schedule(intervalMs, intervalMs, fn);
  }

  after(delayMs: number, fn: () => void): () => void {
    return this.schedule(delayMs, null, fn);
  }

  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  /** Runs deferred work until none is left (work may defer more); returns how many ran. */
  runDeferred(limit = 1_000_000): number {
    let ran = 0;
    while (this.deferred.length > 0) {
      if (ran >= limit) throw new Error(`ManualClock: more than ${limit} deferred calls (a livelock?)`);
      const batch = this.deferred;
      this.deferred = [];
      for (const fn of batch) {
        fn();
        ran++;
      }
    }
    return ran;
  }

  /** Moves time forward by `ms`, firing due timers in time order and running deferred work after each. */
  advance(ms: number): void {
    const end = this.time + ms;
    this.runDeferred();
    for (;;) {
      this.timers = this.timers.filter((timer) => !timer.cancelled);
      const next = this.timers.reduce<Timer | null>(
        (best, timer) =>
          best === null || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)
            ? timer
            : best,
        null,
      );
      if (next === null || next.at > end) break;
      this.time = next.at;
      if (next.intervalMs === null) next.cancelled = true;
      else next.at += next.intervalMs;
      next.fn();
      this.runDeferred();
    }
    this.time = end;
  }

  private schedule(delayMs: number, intervalMs: number | null, fn: () => void): () => void {
    const timer: Timer = { at: this.time + delayMs, seq: this.seq++, intervalMs, fn, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }
}
