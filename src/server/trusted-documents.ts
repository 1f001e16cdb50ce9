import { printExecutableGraphQLDocument } from '@graphql-tools/documents';
import { type GraphQLError, parse } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ConfigError } from '../config.js';
import { refusal } from './errors.js';

/** What a request or a graphql-ws subscribe message carries that can name a document. */
export interface DocumentParams {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
  operationName?: string | null;
  variables?: unknown;
}

const DOCUMENT_ID = /^(?:sha256:)?([0-9a-f]{64})$/i;

const untrusted = (message: string): GraphQLError =>
  refusal(message, { reason: 'UNTRUSTED_DOCUMENT' });

/**
 * TRUSTED_DOCUMENTS: only the documents of the persisted-documents manifest run, looked up by
 * the hash GraphQL Code Generator's client preset gives each (`documentId`, or
 * `extensions.persistedQuery.sha256Hash` as Apollo sends it, or `extensions.documentId`; with or
 * without the `sha256:` prefix). What runs is always the manifest's text: a query sent beside a
 * hash must be that document (compared as codegen prints it: sorted, whitespace folded).
 */
export class TrustedDocuments {
  private readonly documents: ReadonlyMap<string, string>;
  private readonly maxTokens: number;
  private readonly maxQueryChars: number;

  constructor(documents: ReadonlyMap<string, string>, limits: { maxTokens: number }) {
    for (const [hash, document] of documents) {
      try {
        parse(document, { noLocation: true });
      } catch {
        throw new ConfigError(
          `Invalid TRUSTED_DOCUMENTS: the document sha256:${hash} does not parse`,
        );
      }
    }
    this.documents = documents;
    // As the hostile-operation limits count it: 32 characters a token.
    this.maxTokens = limits.maxTokens;
    this.maxQueryChars = limits.maxTokens * 32;
  }

  /** The trusted text to run for these parameters; throws the refusal otherwise. */
  resolve(params: DocumentParams, idFromUrl?: string | null): string {
    const ids = documentIds(params, idFromUrl);
    const query =
      typeof params.query === 'string' && params.query.trim() !== '' ? params.query : undefined;
    if (ids.length === 0) {
      throw untrusted(
        'Only trusted documents run on this server: send the document’s hash as documentId (or extensions.persistedQuery.sha256Hash).',
      );
    }
    const hashes = new Set(ids.map((id) => DOCUMENT_ID.exec(id)?.[1]?.toLowerCase()));
    const [hash] = hashes;
    const document = hashes.size === 1 && hash ? this.documents.get(hash) : undefined;
    if (!document) throw untrusted('The document id is not one of the trusted documents.');
    if (query !== undefined && query !== document && !this.sameDocument(query, document)) {
      throw untrusted('The query sent is not the trusted document with that id.');
    }
    return document;
  }

  /** Compares as the client preset hashed: codegen's stable print (sorted, whitespace folded). */
  private sameDocument(query: string, document: string): boolean {
    if (query.length > this.maxQueryChars) return false;
    try {
      const canonical = (text: string) =>
        printExecutableGraphQLDocument(
          parse(text, { noLocation: true, maxTokens: this.maxTokens }),
        );
      return canonical(query) === canonical(document);
    } catch {
      return false;
    }
  }
}

/** Every id the parameters carry (they must agree); strings only, anything else is no id. */
function documentIds(params: DocumentParams, idFromUrl: string | null | undefined): string[] {
  const extensions = isRecord(params.extensions) ? params.extensions : {};
  const persisted = isRecord(extensions.persistedQuery) ? extensions.persistedQuery : {};
  return [params.documentId, idFromUrl, extensions.documentId, persisted.sha256Hash].filter(
    (id): id is string => typeof id === 'string' && id !== '',
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * HTTP and SSE: the parameters are replaced by the trusted text before yoga checks them (so a
 * `documentId` body is accepted) and before anything parses. A GET names it `?documentId=`.
 * graphql-ws does not pass through yoga's parameter hooks: websocket.ts calls `resolve` itself.
 */
export function useTrustedDocuments(trusted: TrustedDocuments): Plugin {
  return {
    onParams({ params, request, setParams }) {
      const fromUrl =
        request.method === 'GET' ? new URL(request.url).searchParams.get('documentId') : null;
      const query = trusted.resolve(params as DocumentParams, fromUrl);
      setParams({
        query,
        operationName: params.operationName,
        variables: params.variables,
        extensions: params.extensions,
      });
    },
  };
}
