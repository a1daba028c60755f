import { pino, type Logger } from 'pino';

export type { Logger };

/** The SDK is quiet unless the user passes a logger or sets FERRYMQ_CLIENT_LOG_LEVEL. */
export function defaultLogger(): Logger {
  return pino({ name: 'ferrymq-client', level: process.env.FERRYMQ_CLIENT_LOG_LEVEL ?? 'silent' });
}
