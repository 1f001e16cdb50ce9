import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  getOperationAST,
  Kind,
  visit,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { StoppingIterator } from './stopping-iterator.js';

/**
 * One execution of each stream event for every subscriber that would execute it the same way.
 *
 * A subscription executes its selection once per event per subscriber; ten subscribers of one
 * message ran the same resolvers ten times over the same event and built ten equal results. The
 * readers of one message on one instance receive the same event object (the live channel and
 * the embedded log hand out one copy), so the result is kept beside the event, per group:
 * subscribers of the same principal, the same document and operation, and the same values of the
 * variables the event's execution reads (those of the root field's own arguments, `messageId`
 * and `after`, pick the events, not how each is executed). The shared result is the same object
 * for the whole group, which lets the transports serialise it once as well (see ws-frames.ts, and
 * `serialisedOnce` below for SSE).
 *
 * Isolation holds by construction: a subscriber only reads events of a message its principal
 * may see (StreamService.open checks), and the principal is part of the group.
 *
 * A result is kept for the turn of the event loop in which it was made, not for as long as its
 * event lives: a message's readers are woken by the same announcement and read the event in that
 * turn, while the embedded log keeps every event of a message for its TTL, and a result kept
 * beside each event (a WeakMap) lived as long, and was promoted with it: in the fanout bench's
 * embedded run the heap after a mark-compact grew to 137 MB (74 MB without), and those pauses
 * added up to 185 ms against 111 ms, the longest 46 ms against 18 ms. A reader that falls a turn
 * behind (its socket backed up) executes the event again, alike.
 */
export class SharedEventExecution {
  /** Per event read this turn: the result (or its promise) of each group that executed it. */
  private readonly results = new Map<object, Map<string, Promise<ExecutionResult>>>();
  private readonly endTurn = () => this.results.clear();
  /** Per document: the variables its per-event execution reads, by operation name. */
  private readonly eventVariables = new WeakMap<DocumentNode, Map<string, readonly string[]>>();
  /** Documents are cached by yoga's parser: one object per distinct text, numbered here. */
  private readonly documentIds = new WeakMap<DocumentNode, number>();
  private nextDocumentId = 1;
  /** Events executed and results shared since start (tests and the bench read them). */
  readonly counts = { executed: 0, shared: 0 };
  /** Each operation's shared results, by its context (one per operation). */
  private readonly byContext = new WeakMap<object, SharedResults>();

  plugin(): Plugin<Context> {
    // One function for every operation: envelop keeps the one it is given for the operation's life.
    const subscribe = (args: unknown) => this.subscribe(args as ExecutionArgs);
    return {
      onSubscribe: ({ setSubscribeFn }) => {
        setSubscribeFn(subscribe);
      },
    };
  }

  private async subscribe(
    args: ExecutionArgs,
  ): Promise<AsyncGenerator<ExecutionResult, void, undefined> | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const results = new SharedResults(
      this,
      source as AsyncGenerator<unknown, void, undefined>,
      this.groupOf(args),
      args,
    );
    if (typeof args.contextValue === 'object' && args.contextValue !== null) {
      this.byContext.set(args.contextValue, results);
    }
    return results;
  }

  /**
   * The operation's shared results, to be read past envelop's per-event result hooks (see
   * DirectResults); undefined when the operation is not a shared stream.
   */
  directResults(contextValue: unknown): DirectResults | undefined {
    if (typeof contextValue !== 'object' || contextValue === null) return undefined;
    return this.byContext.get(contextValue);
  }

  /** The result of `event` for `group`: executed by the group's first subscriber to ask. */
  resultOf(event: unknown, group: string, args: ExecutionArgs): Promise<ExecutionResult> {
    if (typeof event !== 'object' || event === null) return this.executeFor(event, args);
    let byGroup = this.results.get(event);
    if (!byGroup) {
      // The turn's first event: setImmediate runs after the poll phase, by when every reader
      // woken in it has read.
      if (this.results.size === 0) setImmediate(this.endTurn);
      byGroup = new Map();
      this.results.set(event, byGroup);
    }
    const shared = byGroup.get(group);
    if (shared) {
      this.counts.shared++;
      return shared;
    }
    const result = this.executeFor(event, args);
    byGroup.set(group, result);
    return result;
  }

  private async executeFor(event: unknown, args: ExecutionArgs): Promise<ExecutionResult> {
    this.counts.executed++;
    return serialisedOnce(await execute({ ...args, rootValue: event }));
  }

  private groupOf(args: ExecutionArgs): string {
    const operationName = args.operationName ?? '';
    const names = this.variablesReadPerEvent(args.document, operationName);
    const values = names.map((name) => args.variableValues?.[name] ?? null);
    const principal = (args.contextValue as Context).principal.id;
    return JSON.stringify([principal, this.documentId(args.document), operationName, values]);
  }

  private documentId(document: DocumentNode): number {
    let id = this.documentIds.get(document);
    if (id === undefined) {
      id = this.nextDocumentId++;
      this.documentIds.set(document, id);
    }
    return id;
  }

  /**
   * Every variable the operation uses outside its root fields' arguments (fragments counted
   * whole: reading too many only makes groups smaller, never wrong).
   */
  private variablesReadPerEvent(document: DocumentNode, operationName: string): readonly string[] {
    let byOperation = this.eventVariables.get(document);
    if (!byOperation) {
      byOperation = new Map();
      this.eventVariables.set(document, byOperation);
    }
    const known = byOperation.get(operationName);
    if (known) return known;
    const names = new Set<string>();
    const collect = {
      Variable: (node: { name: { value: string } }) => void names.add(node.name.value),
    };
    const operation = getOperationAST(document, operationName || undefined);
    for (const selection of operation?.selectionSet.selections ?? []) {
      if (selection.kind !== Kind.FIELD) {
        visit(selection, collect);
        continue;
      }
      for (const directive of selection.directives ?? []) visit(directive, collect);
      if (selection.selectionSet) visit(selection.selectionSet, collect);
    }
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, collect);
    }
    const sorted = [...names].sort();
    byOperation.set(operationName, sorted);
    return sorted;
  }
}

/** What a reader of DirectResults gave back: a result it read, or the error `next` threw. */
export type HandedBack = { result: IteratorResult<ExecutionResult, void> } | { error: unknown };

/**
 * A subscriber's results read straight, past envelop's wrappers (the operation's iterable is
 * still the wrapped one, and `return` goes through it). Envelop wraps every subscriber's results
 * in its per-event hooks: two async iterators and a promise chain per event per subscriber,
 * about a tenth of a paced stream's CPU, while every hook a subscription has (yoga's masked
 * errors, the contract mapping, the suggestions scrub) rewrites errors only. A reader takes
 * what has no errors as it is and hands the rest back (`handBack`), to read it again through the
 * wrapped iterable: the wrappers' next read gets exactly it, the hooks run on it as before.
 */
export interface DirectResults {
  next(): Promise<IteratorResult<ExecutionResult, void>>;
  handBack(outcome: HandedBack): void;
}

/** One subscriber's results: its events, each executed once for its group. */
class SharedResults extends StoppingIterator<ExecutionResult> implements DirectResults {
  /** Read by a direct reader and handed back: the next `next` gives it again. */
  private handedBack: HandedBack | undefined;

  constructor(
    private readonly execution: SharedEventExecution,
    private readonly events: AsyncGenerator<unknown, void, undefined>,
    private readonly group: string,
    private readonly args: ExecutionArgs,
  ) {
    super();
  }

  handBack(outcome: HandedBack): void {
    this.handedBack = outcome;
  }

  async next(): Promise<IteratorResult<ExecutionResult, void>> {
    const handedBack = this.handedBack;
    if (handedBack !== undefined) {
      this.handedBack = undefined;
      if ('error' in handedBack) throw handedBack.error;
      return handedBack.result;
    }
    const next = await this.events.next();
    if (next.done) return { done: true, value: undefined };
    return { done: false, value: await this.execution.resultOf(next.value, this.group, this.args) };
  }

  protected async stop(): Promise<void> {
    await this.events.return(undefined);
  }
}

/**
 * yoga serialises a result for SSE with the result's own `stringify` when it has one (also when
 * it passes a copy without internals, which is serialised as usual): a shared result is
 * serialised once for all its SSE subscribers. Not enumerable, so never part of the JSON. One
 * function for every result (a closure per event was made, and under tsx named, per execution).
 */
function serialisedOnce(result: ExecutionResult): ExecutionResult {
  sharedJson.set(result, undefined);
  Object.defineProperty(result, 'stringify', { value: stringifyShared, enumerable: false });
  return result;
}

/** Shared results, with their JSON once made. */
const sharedJson = new WeakMap<object, string | undefined>();

function stringifyShared(value: unknown): string {
  if (typeof value !== 'object' || value === null || !sharedJson.has(value)) {
    return JSON.stringify(value);
  }
  let json = sharedJson.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    sharedJson.set(value, json);
  }
  return json;
}
