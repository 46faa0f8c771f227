// Latency samples for the benchmarks: an append-only recorder of per-operation times and
// percentile summaries. Not shared across threads; one recorder per measured loop.

/** Collects durations (µs) into a growable Float64Array. */
export class LatencyRecorder {
  #values = new Float64Array(1 << 16);
  #count = 0;

  push(micros) {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#count++] = micros;
  }

  get count() {
    return this.#count;
  }

  /** The samples, sorted ascending (a copy). */
  sorted() {
    return this.#values.slice(0, this.#count).sort();
  }
}

/** The p-th percentile (0 < p ≤ 100) of an ascending array, nearest-rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** count, p50, p99, p99.9 and max of a list of numbers. */
export function summarize(values) {
  const sorted = values instanceof Float64Array ? values : Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length === 0 ? undefined : sorted[sorted.length - 1],
  };
}
