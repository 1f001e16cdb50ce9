import { GenerationFailure } from './types.js';

/**
 * Aborts a stream that goes quiet or runs too long: one deadline for the first token, another
 * for each gap after it, and one for the whole answer. The SDK's own timeout only covers the
 * wait for response headers.
 */
export class StreamWatchdog {
  private gapTimer: NodeJS.Timeout | undefined;
  private readonly totalTimer: NodeJS.Timeout;
  private firstTokenSeen = false;

  constructor(
    private readonly controller: AbortController,
    firstTokenTimeoutMs: number,
    private readonly idleTimeoutMs: number,
    totalTimeoutMs: number,
  ) {
    this.arm(firstTokenTimeoutMs, 'No first token within the time limit.', true);
    this.totalTimer = setTimeout(() => {
      controller.abort(
        new GenerationFailure('UPSTREAM_TIMEOUT', 'The answer took longer than allowed.'),
      );
    }, totalTimeoutMs);
  }

  /**
   * Call on every chunk received. Chunks before the first text (the role chunk) do not count as
   * a first token: an upstream that sends only those is still stalled before its answer.
   */
  chunk(hasText: boolean): void {
    this.firstTokenSeen ||= hasText;
    if (this.firstTokenSeen)
      this.arm(this.idleTimeoutMs, 'The model stopped sending tokens.', false);
  }

  stop(): void {
    clearTimeout(this.gapTimer);
    clearTimeout(this.totalTimer);
  }

  private arm(timeoutMs: number, message: string, transient: boolean): void {
    clearTimeout(this.gapTimer);
    this.gapTimer = setTimeout(() => {
      this.controller.abort(new GenerationFailure('UPSTREAM_TIMEOUT', message, { transient }));
    }, timeoutMs);
  }
}
