import type { BenchFile } from './index';

/** The SVG chart of one bench file. */
export function renderChart(result: BenchFile): string;
/** The command line of `npm run bench:report`; returns the exit code. */
export function main(argv: string[]): number;
