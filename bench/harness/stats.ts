/** Latency samples and their summaries. */

/** A growable array of numbers with a hard cap, so a runaway loop cannot exhaust memory. */
export class SampleSet {
  private values = new Float64Array(1024);
  private size = 0;

  constructor(private readonly capacity = 5_000_000) {}

  add(value: number): void {
    if (this.size >= this.capacity) return;
    if (this.size === this.values.length) {
      const grown = new Float64Array(Math.min(this.values.length * 2, this.capacity));
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = value;
  }

  get count(): number {
    return this.size;
  }

  /** A compact copy for sending to the parent process. */
  toArray(): Float64Array {
    return this.values.slice(0, this.size);
  }
}

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of all samples given (several arrays are merged first). */
export function summarize(...parts: readonly Float64Array[]): Summary {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  all.sort();
  const rank = (p: number) => all[Math.min(total - 1, Math.max(0, Math.ceil(p * total) - 1))] ?? 0;
  let sum = 0;
  for (const value of all) sum += value;
  return {
    count: total,
    mean: total > 0 ? sum / total : 0,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: total > 0 ? (all[total - 1] ?? 0) : 0,
  };
}
