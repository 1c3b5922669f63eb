/** Time as engines see it. The simulated tier swaps in a virtual clock so runs are deterministic. */
export interface Clock {
  /** Monotonic time in nanoseconds (a JS number: exact up to ~104 days). */
  nowNs(): number;
  /** Wait about `us` microseconds. 0 still yields to other writers. */
  sleepUs(us: number): Promise<void>;
}

export const realClock: Clock = {
  nowNs: () => Number(process.hrtime.bigint()),
  sleepUs: (us) =>
    new Promise((resolve) => {
      if (us <= 0) setImmediate(resolve);
      else setTimeout(resolve, Math.max(1, Math.round(us / 1000)));
    }),
};

/**
 * A deterministic clock: time advances only through sleeps, and a sleep resolves after the
 * other runnable tasks had a turn (a macrotask), so batches form the same way on every run.
 */
export function virtualClock(): Clock {
  let now = 0;
  return {
    nowNs: () => now,
    sleepUs: (us) =>
      new Promise((resolve) => {
        now += Math.max(1, Math.round(us * 1000));
        setImmediate(resolve);
      }),
  };
}
