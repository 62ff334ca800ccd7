import { type Config, ConfigError, type Logger, loadConfig } from '@bk/core';

/**
 * For process entry points: the validated configuration, or exit code 2 with the message
 * that names the bad key (a configuration error is not a crash: no stack trace).
 */
export function loadConfigOrExit(log: Logger): Readonly<Config> {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      log.fatal(e.message);
      process.exit(2);
    }
    throw e;
  }
}
