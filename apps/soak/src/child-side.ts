import type { ChildStats, FromChild, ToChild } from './child';
import { Counts, PeakMemory, memory, openFds } from './stats';

/**
 * The child's half of {@link ServerChild}: answers `stats` and `stop` over
 * IPC, samples its memory every second for the peak.
 */
export function serveParent(opts: {
  port: number;
  connNum: () => number;
  errors: Counts;
  counters: () => Record<string, number>;
  shutdown: () => Promise<void>;
}): void {
  const peak = new PeakMemory();
  peak.add(memory());
  const sampler = setInterval(() => peak.add(memory()), 1000);
  sampler.unref();
  const stats = (collect: boolean): ChildStats => {
    const m = memory(collect);
    peak.add(m);
    return {
      connNum: opts.connNum(),
      fds: openFds(),
      memory: m,
      peak: { ...peak.peak },
      errors: opts.errors.toJSON(),
      counters: opts.counters(),
    };
  };
  const send = (m: FromChild): void => void process.send!(m);
  process.on('message', (m: ToChild) => {
    if (m.type === 'stats') {
      send({ type: 'stats', id: m.id, stats: stats(m.collect) });
    } else if (m.type === 'stop') {
      void opts.shutdown().then(() => {
        clearInterval(sampler);
        send({ type: 'stopped', id: m.id, stats: stats(true) });
        process.disconnect();
      });
    }
  });
  // The parent went away: do not linger.
  process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());
  send({ type: 'ready', port: opts.port });
}
