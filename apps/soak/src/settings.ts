import { UsageError, integerOption, parseOptions } from 'app-support';

/** What one soak run does: every setting, from its flag or else its environment variable. */
export interface SoakSettings {
  /** Which parts run. Default `all` (connections and rpc; `rolling` runs alone: it needs haproxy). */
  part: 'connections' | 'rpc' | 'all' | 'rolling';
  /** Concurrent connections of part (a). Default `10000`. */
  connections: number;
  /** How long they are held, seconds. Default `60`. */
  connSeconds: number;
  /** Each client pings every 0..thinkMs ms. Default `1000`. */
  thinkMs: number;
  /** Length of the rpc run, seconds. Default `600`. */
  seconds: number;
  /** rpc callers. Default `64`. */
  callers: number;
  /** The proxy resets one connection this often, ms (0: never). Default `500`. */
  dropEveryMs: number;
  /** One RpcClient is closed and replaced this often, ms (0: never). Default `5000`. */
  replaceEveryMs: number;
  /** Rolling restart: each server is restarted this many times. Default `20`. */
  restarts: number;
  /** Rolling restart: the servers drain with `rpc.goaway` (`on`) or not (`off`). Default `on`. */
  drain: boolean;
  /** Where the reports are also written as JSON; none by default. */
  json: string | undefined;
}

/** Each flag and the environment variable that sets it when the flag is absent. */
const FLAGS = {
  part: 'SOAK_PART',
  connections: 'SOAK_CONNECTIONS',
  'conn-seconds': 'SOAK_CONN_SECONDS',
  'think-ms': 'SOAK_THINK_MS',
  seconds: 'SOAK_SECONDS',
  callers: 'SOAK_CALLERS',
  'drop-every-ms': 'SOAK_DROP_EVERY_MS',
  'replace-every-ms': 'SOAK_REPLACE_EVERY_MS',
  restarts: 'SOAK_RESTARTS',
  drain: 'SOAK_DRAIN',
  json: 'SOAK_JSON',
} as const;

type Flag = keyof typeof FLAGS;

const OPTIONS = Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }])) as Record<
  Flag,
  { type: 'string' }
>;

const PARTS: ReadonlySet<string> = new Set(['connections', 'rpc', 'all', 'rolling']);
const MAX_MS = 2 ** 31 - 1;
const WEEK_SECONDS = 7 * 24 * 3600;

/**
 * Reads the settings from the flags of `argv`, else from `env` (an empty value counts as unset).
 *
 * @throws UsageError for an unknown flag or a bad value.
 */
export function soakSettings(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SoakSettings {
  const values = parseOptions(argv, OPTIONS);
  const text = (flag: Flag): string | undefined => {
    const v = values[flag] ?? env[FLAGS[flag]];
    return v === '' ? undefined : v;
  };
  const int = (flag: Flag, fallback: number, min: number, max: number): number =>
    integerOption(`--${flag} (${FLAGS[flag]})`, text(flag), fallback, min, max);
  const part = text('part') ?? 'all';
  if (!PARTS.has(part))
    throw new UsageError(`--part (SOAK_PART) must be connections, rpc, all or rolling, got "${part}"`);
  const drain = text('drain') ?? 'on';
  if (drain !== 'on' && drain !== 'off') throw new UsageError(`--drain (SOAK_DRAIN) must be on or off, got "${drain}"`);
  return {
    part: part as SoakSettings['part'],
    connections: int('connections', 10_000, 1, 1_000_000),
    connSeconds: int('conn-seconds', 60, 1, WEEK_SECONDS),
    thinkMs: int('think-ms', 1000, 0, MAX_MS),
    seconds: int('seconds', 600, 1, WEEK_SECONDS),
    callers: int('callers', 64, 1, 100_000),
    dropEveryMs: int('drop-every-ms', 500, 0, MAX_MS),
    replaceEveryMs: int('replace-every-ms', 5000, 0, MAX_MS),
    restarts: int('restarts', 20, 1, 100_000),
    drain: drain === 'on',
    json: text('json'),
  };
}
