/** One GraphQL call over HTTP, and what came of it, as the ingest loop needs to tell apart. */
export type CallOutcome<T> =
  | { kind: 'data'; data: T }
  /** The server answered with an error: its contract code (or HTTP_<status>) and message. */
  | { kind: 'error'; code: string; message: string; retryAfterMs: number | undefined }
  /** No answer at all: refused connection, DNS, reset, or the signal. */
  | { kind: 'unreachable'; message: string };

export interface GraphQLEndpoint {
  url: string;
  apiKey: string | undefined;
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: { message?: string; extensions?: { code?: string } }[];
}

export async function callGraphQL<T>(
  endpoint: GraphQLEndpoint,
  query: string,
  variables: Record<string, unknown>,
  signal: AbortSignal,
): Promise<CallOutcome<T>> {
  let response: Response;
  try {
    response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (error) {
    return { kind: 'unreachable', message: describeFailure(error) };
  }
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterMs =
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
  let body: GraphQLBody<T>;
  try {
    body = (await response.json()) as GraphQLBody<T>;
  } catch {
    return {
      kind: 'error',
      code: `HTTP_${response.status}`,
      message: `the server answered ${response.status} without a GraphQL body`,
      retryAfterMs,
    };
  }
  const [first] = body.errors ?? [];
  if (first || !body.data) {
    return {
      kind: 'error',
      code: first?.extensions?.code ?? `HTTP_${response.status}`,
      message: first?.message ?? 'no data in the answer',
      retryAfterMs,
    };
  }
  return { kind: 'data', data: body.data };
}

/** fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is in its cause. */
function describeFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}
