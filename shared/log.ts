import { pino, type Logger } from 'pino';

/** Keys that never reach a log line (DESIGN §6): keys, tokens, passwords. */
export const REDACT_PATHS = [
  'privateKey', '*.privateKey', 'secretKey', '*.secretKey', 'token', '*.token', 'password', '*.password',
  'passphrase', '*.passphrase', 'authorization', '*.authorization', 'headers.authorization', 'seed', '*.seed',
];

export type { Logger };

/** A pino logger namespaced by module. Level from LOA_LOG_LEVEL (default info). Logs go to stderr. */
export function createLogger(module: string, options: { level?: string; destination?: number } = {}): Logger {
  return pino(
    {
      name: `loa:${module}`,
      level: options.level ?? process.env.LOA_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}
