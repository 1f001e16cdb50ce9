import { Agent, type IncomingHttpHeaders, request } from 'node:http';

/**
 * GraphQL over HTTP with node:http and a keep-alive agent: the cheapest real client Node has, so
 * the load generator's own cost stays small next to the server's.
 */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function createAgent(connections: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
}

/**
 * POSTs a ready-made body; resolves with status and body text (never rejects on a 4xx/5xx).
 * A request on a reused keep-alive socket that the server closed meanwhile (its keep-alive
 * timeout raced our reuse) never reached it: that one is sent again, as Node's docs advise.
 */
export async function postBody(
  agent: Agent,
  url: URL,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<HttpResponse> {
  try {
    return await postOnce(agent, url, body, headers);
  } catch (error) {
    if (!(error as { reusedSocket?: boolean }).reusedSocket) throw error;
    return postOnce(agent, url, body, headers);
  }
}

function postOnce(
  agent: Agent,
  url: URL,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      const raced = outgoing.reusedSocket && error.code === 'ECONNRESET';
      reject(Object.assign(error, { reusedSocket: raced }));
    });
    outgoing.end(body);
  });
}

export interface GraphQLResult<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** One operation whose errors fail the caller: for setting data up, not for measuring. */
export async function graphqlData<T>(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const response = await postBody(
    agent,
    new URL(url),
    JSON.stringify({ query, variables }),
    headers,
  );
  const result = JSON.parse(response.body) as GraphQLResult<T>;
  if (response.status !== 200 || result.errors?.length || !result.data) {
    throw new Error(`GraphQL ${response.status}: ${response.body.slice(0, 300)}`);
  }
  return result.data;
}
