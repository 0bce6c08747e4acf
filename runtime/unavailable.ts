/**
 * Tells an outage from a bug: errors that mean "the database or Temporal
 * cannot be reached right now" become a 503 naming the dependency, so a
 * caller knows to retry, instead of a 500.
 */
import { ServiceError } from '@temporalio/client';
import { MongoNetworkError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';

/** gRPC codes a call gets when the server is down, restarting or too slow to answer in time. */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

export function isTemporalUnavailable(err: unknown): boolean {
  if (!(err instanceof ServiceError)) return false;
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED;
}

export function isDatabaseUnavailable(err: unknown): boolean {
  return (
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNetworkError ||
    err instanceof MongoTopologyClosedError
  );
}

/** The dependency an error says is out of reach, or undefined for any other error. */
export function unavailableDependency(err: unknown): 'Temporal' | 'the database' | undefined {
  if (isTemporalUnavailable(err)) return 'Temporal';
  if (isDatabaseUnavailable(err)) return 'the database';
  return undefined;
}
