import OpenAI from 'openai';
import { GenerationFailure } from './types.js';

/** Seconds or an HTTP date in Retry-After; OpenAI also sends retry-after-ms. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const milliseconds = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(milliseconds) && milliseconds > 0) return milliseconds;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * What an OpenAI SDK error says about the upstream, for chat and embeddings alike: a timeout, an
 * HTTP status (transient for 408, 429 and 5xx, with its Retry-After), or no answer at all.
 * Undefined for an error that is not the SDK's. `subject` opens the client-safe message.
 */
export function upstreamFailure(error: unknown, subject: string): GenerationFailure | undefined {
  if (error instanceof GenerationFailure) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new GenerationFailure('UPSTREAM_TIMEOUT', `${subject} did not answer in time.`, {
      transient: true,
      cause: error,
    });
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const status = error.status;
    return new GenerationFailure(
      status === 429 ? 'UPSTREAM_RATE_LIMITED' : 'UPSTREAM_ERROR',
      `${subject} answered ${status}.`,
      {
        transient: status === 408 || status === 429 || status >= 500,
        retryAfterMs: retryAfterMs(error.headers),
        cause: error,
      },
    );
  }
  if (error instanceof OpenAI.APIError) {
    return new GenerationFailure('UPSTREAM_UNAVAILABLE', `${subject} is unreachable.`, {
      transient: true,
      cause: error,
    });
  }
  return undefined;
}
