/**
 * What graphql-ws and yoga drain for one subscription: `return()` and `throw()` stop what it
 * reads, and it is its own iterable. A class rather than an object of closures because one lives
 * as long as its subscription, idle ones included: an object literal's closures are made per
 * subscription, and run through tsx (whose esbuild keeps function names) each also carries a
 * property dictionary of about 0.25 KB.
 */
export abstract class StoppingIterator<T> implements AsyncGenerator<T, void, undefined> {
  abstract next(): Promise<IteratorResult<T, void>>;

  /** Stops reading; what was being read ends too. */
  protected abstract stop(): Promise<void>;

  async return(): Promise<IteratorResult<T, void>> {
    await this.stop();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<T, void>> {
    await this.stop();
    throw error;
  }

  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return this;
  }
}
