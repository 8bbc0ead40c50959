// Medians and spreads of repeated measurements.

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: number[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function spread(values: readonly number[]): Spread {
  return {
    median: median(values),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
    samples: [...values],
  };
}

/** (max − min) / median: how noisy the repetitions were. */
export function relativeRange(s: Spread): number {
  return s.median > 0 ? (s.max - s.min) / s.median : Number.NaN;
}
