/**
 * How every command runs: one admin connection to `--broker`, errors turned into one line on
 * stderr and an exit code, and the connection closed so the process exits.
 *
 * Exit codes: 0 ok; 1 the work failed (broker unreachable, a request failed); 2 a bad argument,
 * including a topic, group or message the broker does not know.
 */
import type { Argv } from 'yargs';
import { AdminClient } from '../client/admin.js';
import { BrokerResponseError, InvalidArgumentError, RequestTimeoutError, ConnectionClosedError } from '../protocol/errors.js';
import { ResponseCode } from '../protocol/response-code.js';
import { DEFAULT_BROKER, parseBrokerAddress, UsageError } from './args.js';

export const ExitCode = { OK: 0, FAILURE: 1, BAD_ARGUMENT: 2 } as const;

/** Broker answers that mean the user named something that does not exist. */
const NOT_FOUND_CODES: readonly number[] = [ResponseCode.TOPIC_NOT_EXIST, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST];

export interface GlobalArgs {
  broker: string;
  json?: boolean;
  timeout?: number;
}

/** The `--broker`, `--timeout` options every command shares (registered once in index.ts). */
export function brokerOf(argv: { broker?: unknown }): string {
  return parseBrokerAddress(String(argv.broker ?? process.env.FERRYMQ_BROKER ?? DEFAULT_BROKER));
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof InvalidArgumentError) return ExitCode.BAD_ARGUMENT;
  if (err instanceof BrokerResponseError && NOT_FOUND_CODES.includes(err.code)) return ExitCode.BAD_ARGUMENT;
  return ExitCode.FAILURE;
}

/**
 * Runs a one-command script outside the CLI (`npm run test:power-loss`, `npm run bench:floor`):
 * strict flags, `--help`, any error as one line on stderr, and the CLI's exit codes (yargs' own
 * checks are bad arguments).
 */
export async function runScript<T>(parser: Argv<T>): Promise<void> {
  await parser
    .strict()
    .fail((message, err) => {
      console.error(err?.message ?? message);
      process.exit(err && err.name !== 'YError' ? exitCodeFor(err) : ExitCode.BAD_ARGUMENT);
    })
    .help()
    .parseAsync();
}

function messageOf(err: unknown, broker: string | undefined): string {
  if (err instanceof BrokerResponseError) return err.remark ?? err.message;
  if ((err instanceof ConnectionClosedError || err instanceof RequestTimeoutError) && broker) {
    return `${(err as Error).message} (is a broker running at ${broker}? set --broker or FERRYMQ_BROKER)`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs a command body; any error becomes `ferrymq <command>: <message>` and its exit code.
 * The body's resources must be released by the body (see `withAdmin`).
 */
export async function runCommand(name: string, body: () => Promise<void>, broker?: string): Promise<void> {
  try {
    await body();
  } catch (err) {
    process.stderr.write(`ferrymq ${name}: ${messageOf(err, broker)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}

/** Runs `fn` with an AdminClient on `--broker`, closing it afterwards. */
export async function withAdmin(name: string, argv: GlobalArgs, fn: (admin: AdminClient) => Promise<void>): Promise<void> {
  await runCommand(
    name,
    async () => {
      const admin = new AdminClient({ address: brokerOf(argv), requestTimeoutMs: argv.timeout });
      try {
        await fn(admin);
      } finally {
        admin.close();
      }
    },
    argv.broker,
  );
}
