import { GenerationFailure } from './types.js';

/**
 * Aborts a stream that goes quiet: one deadline for the first token, another for each gap after
 * it. The SDK's own timeout only covers the wait for response headers.
 */
export class StreamWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private seenFirstChunk = false;

  constructor(
    private readonly controller: AbortController,
    private readonly firstTokenTimeoutMs: number,
    private readonly idleTimeoutMs: number,
  ) {
    this.arm(firstTokenTimeoutMs, 'No first token within the time limit.');
  }

  /** Call on every chunk received. */
  chunk(): void {
    this.seenFirstChunk = true;
    this.arm(this.idleTimeoutMs, 'The model stopped sending tokens.');
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  get firstChunkSeen(): boolean {
    return this.seenFirstChunk;
  }

  private arm(timeoutMs: number, message: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.controller.abort(new GenerationFailure('UPSTREAM_TIMEOUT', message));
    }, timeoutMs);
  }
}
