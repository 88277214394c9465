/**
 * What the apps share, once: command-line options (`parseOptions`,
 * `integerOption`, `UsageError`, `describeFileError`), formatting
 * (`hostPort`, `formatMs`), an abortable `sleep`, `runMain`, and `ChildApp`,
 * the one child-process runner of the apps, their tests and the soak. Private
 * to this workspace; not published.
 * @packageDocumentation
 */
export {
  ChildApp,
  describeExit,
  killAllChildApps,
  type ChildAppOptions,
  type ChildExit,
  type ChildStream,
} from './child-app';
export { describeFileError } from './describe-file-error';
export { formatMs } from './format-ms';
export { hostPort } from './host-port';
export { integerOption } from './integer-option';
export { parseOptions, type OptionTable, type ParsedOptions } from './parse-options';
export { runMain } from './run-main';
export { sleep } from './sleep';
export { UsageError } from './usage-error';
