/** A median and the range it lies in. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** One row as a bench hands it over: each side's value in each round, in round order. */
export interface BenchRowInput {
  /** The group the row belongs to in the bench's output (`Server side`, `TLS, client side`, ...). */
  section?: string;
  /** What the row measures (`64 conns x 8 B ping-pong`). */
  name: string;
  /** Unit of the values (`round trips/s`, `MiB/s`, `calls/s`, `ops/s`, `ns/line`). */
  unit: string;
  /** Our side's name in the chart; default `ours`. */
  oursName?: string;
  /** What ours is compared with (`raw node:net`, `generic-pool`, `@grpc/grpc-js`). */
  baselineName: string;
  /** Our value in each round. */
  ours: number[];
  /** The baseline's value in each round, as many as `ours`. */
  baseline: number[];
  /** `true` (the default) for rates, `false` for times and sizes. */
  higherIsBetter?: boolean;
  /** CPU time per operation of the side under test, when the bench measures it. */
  cpu?: { ours: number; baseline: number; unit: string };
}

/** One row as the JSON holds it. */
export interface BenchRow {
  section: string;
  name: string;
  unit: string;
  higherIsBetter: boolean;
  oursName: string;
  baselineName: string;
  ours: Spread;
  baseline: Spread;
  /** Per round, ours/baseline (or baseline/ours when lower is better): above 1, ours is better. */
  ratio: Spread;
  rounds: number;
  /** `process.version` of the run. */
  node: string;
  /** With `ratio` = baseline/ours: above 1, ours spends less. */
  cpu?: { ours: number; baseline: number; unit: string; ratio: number };
}

/** What one file holds. */
export interface BenchFile {
  bench: string;
  title: string;
  package: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  startedAt: string;
  finishedAt: string;
  rows: BenchRow[];
}

/** The rows of one run of one bench, written as one JSON file. */
export class BenchResults {
  /** @param id - names the file and the chart: letters, digits, `-` and `_` (`tcp-echo`). */
  constructor(id: string, info?: { title?: string; package?: string });
  readonly id: string;
  readonly rows: BenchRow[];
  /** Adds a row from its rounds; throws a `TypeError` for a bad row. Returns what it stored. */
  add(row: BenchRowInput): BenchRow;
  toJSON(): BenchFile;
  /** Writes `<dir>/<id>/<time>-node<major>.json` and returns its path; `null` (nothing written) without rows. */
  write(dir?: string): string | null;
  /** `write()` to the default folder, then logs one line that says where; returns the path. */
  finish(log?: (line: string) => void): string | null;
}

/** Summarizes one row without a `BenchResults` (what `add` stores). */
export function summarizeRow(row: BenchRowInput): BenchRow;
/** Median, min and max of a non-empty list. */
export function spread(values: number[]): Spread;
/** `BENCH_RESULTS_DIR`, else `bench-results/` at the repository root. */
export function resultsDir(): string;
/** The newest file of each bench under `dir`, by id. */
export function latestResults(dir?: string): Record<string, string>;
