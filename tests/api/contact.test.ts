import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/infra/logger.js';
import { codesOf, withTimeout } from '../support/assertions.js';
import { gql, gqlData } from '../support/client.js';
import { freePort } from '../support/redis.js';
import { type BackendKind, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const ADMIN_KEY = 'key-ops';
const API_KEYS = `alice:key-alice,ops:${ADMIN_KEY}:admin`;
/** Loopback is the proxy, so X-Forwarded-For names the client: each test is its own address. */
const PROXY_ENV = { API_KEYS, TRUSTED_PROXIES: '127.0.0.1' };

const SUBMIT = /* GraphQL */ `
  mutation Submit($input: SubmitContactInput!) {
    submitContact(input: $input) { id createdAt name email message }
  }
`;
const CONTACTS = /* GraphQL */ `
  query Contacts($first: Int, $after: String) {
    admin {
      contacts(first: $first, after: $after) {
        edges { cursor node { id createdAt name email message } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;
const BREAKERS = '{ admin { breakers { name state failures successes } } }';

interface Submission {
  id: string;
  createdAt: string;
  name: string;
  email: string;
  message: string;
}
type Submitted = { submitContact: Submission };
type Contacts = {
  admin: {
    contacts: {
      edges: { cursor: string; node: Submission }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };
};
type Breakers = {
  admin: { breakers: { name: string; state: string; failures: number; successes: number }[] };
};

const VALID = { name: 'Ada Lovelace', email: 'ada@example.org', message: 'Hello from the form.' };

let nextAddress = 1;
/** A client address of the test's own (TEST-NET-3), so limits never leak between tests. */
const freshIp = () => `203.0.113.${nextAddress++}`;

/** Submits without an API key, as a public page would, from `ip`. */
const submit = (server: TestServer, input: Record<string, string>, ip = freshIp()) =>
  gql<Submitted>(server, SUBMIT, { input }, { headers: { 'x-forwarded-for': ip } });

const listContacts = (server: TestServer, variables: Record<string, unknown> = {}) =>
  gqlData<Contacts>(server, CONTACTS, variables, { apiKey: ADMIN_KEY });

const webhookBreaker = async (server: TestServer) => {
  const { admin } = await gqlData<Breakers>(server, BREAKERS, {}, { apiKey: ADMIN_KEY });
  return admin.breakers.find((breaker) => breaker.name === 'webhook:contact');
};

describe.each<BackendKind>(['memory', 'redis'])('submitContact on the %s backend', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ backend, env: PROXY_ENV });
  });

  afterAll(async () => {
    await server.close();
  });

  it.each([
    ['name', { ...VALID, name: '   ' }, 'must not be empty'],
    ['name', { ...VALID, name: 'x'.repeat(201) }, 'at most 200 characters'],
    ['name', { ...VALID, name: '😀'.repeat(151) }, 'at most 600 bytes'],
    ['name', { ...VALID, name: 'Ada\nLovelace' }, 'control characters'],
    ['email', { ...VALID, email: 'not-an-address' }, 'valid email'],
    ['email', { ...VALID, email: `${'a'.repeat(250)}@example.org` }, 'at most 254 characters'],
    ['message', { ...VALID, message: 'bell \u0007 here' }, 'control characters'],
    ['message', { ...VALID, message: 'y'.repeat(5001) }, 'at most 5000 characters'],
    ['message', { ...VALID, message: '😀'.repeat(3001) }, 'at most 12000 bytes'],
  ])('a bad %s is BAD_USER_INPUT naming the field (%#)', async (field, input, why) => {
    const response = await submit(server, input);
    expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
    const [error] = response.errors!;
    expect(error!.extensions?.field).toBe(field);
    expect(error!.message).toContain(`"${field}"`);
    expect(error!.message).toContain(why);
    expect(error!.message).not.toContain((input as Record<string, string>)[field]);
    expect(response.data ?? null).toBeNull();
  });

  it('a refused submission is not stored and uses none of the address’s limit', async () => {
    const ip = freshIp();
    const before = await listContacts(server, { first: 100 });
    for (let attempt = 0; attempt < 6; attempt++) {
      expect(codesOf(await submit(server, { ...VALID, email: 'nope' }, ip))).toEqual([
        'BAD_USER_INPUT',
      ]);
    }
    expect((await listContacts(server, { first: 100 })).admin.contacts.edges).toEqual(
      before.admin.contacts.edges,
    );
    expect((await submit(server, VALID, ip)).errors).toBeUndefined();
  });

  it('returns an id and createdAt, stores the trimmed fields, and admin lists it', async () => {
    const response = await submit(server, {
      name: '  Grace Hopper ',
      email: ' grace@example.org ',
      message: '  Line one\r\nline two\twith a tab  ',
    });
    expect(response.errors).toBeUndefined();
    const submitted = response.data!.submitContact;
    expect(submitted.id).toMatch(/^con_[0-9a-f]{32}$/);
    expect(Number.isNaN(Date.parse(submitted.createdAt))).toBe(false);
    expect(submitted).toMatchObject({
      name: 'Grace Hopper',
      email: 'grace@example.org',
      message: 'Line one\nline two\twith a tab',
    });
    const { edges } = (await listContacts(server)).admin.contacts;
    expect(edges[0]!.node).toEqual(submitted);
  });

  it('lists newest first, in pages that continue after the cursor', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      const response = await submit(server, { ...VALID, message: `page test ${index}` });
      ids.push(response.data!.submitContact.id);
    }
    const first = (await listContacts(server, { first: 2 })).admin.contacts;
    expect(first.edges.map((edge) => edge.node.id)).toEqual([ids[2], ids[1]]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await listContacts(server, { first: 1, after: first.pageInfo.endCursor })).admin
      .contacts;
    expect(second.edges.map((edge) => edge.node.id)).toEqual([ids[0]]);
  });

  it('a cursor that is not from the list is BAD_USER_INPUT', async () => {
    const forged = Buffer.from('contact:+').toString('base64url');
    const response = await gql(server, CONTACTS, { after: forged }, { apiKey: ADMIN_KEY });
    expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
  });

  it('admin contacts needs the admin scope', async () => {
    const response = await gql(server, CONTACTS, {}, { apiKey: 'key-alice' });
    expect(codesOf(response)).toEqual(['FORBIDDEN']);
    expect(codesOf(await gql(server, CONTACTS))).toEqual(['UNAUTHENTICATED']);
  });
});

describe.each<BackendKind>(['memory', 'redis'])(
  'the contact limit on the %s backend',
  (backend) => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startServer({ backend, env: { ...PROXY_ENV, CONTACT_LIMIT_PER_HOUR: '2' } });
    });

    afterAll(async () => {
      await server.close();
    });

    it('past CONTACT_LIMIT_PER_HOUR one address gets RATE_LIMITED with retryAfter; another is counted apart', async () => {
      const ip = freshIp();
      for (let index = 0; index < 2; index++) {
        expect((await submit(server, VALID, ip)).errors).toBeUndefined();
      }
      const refused = await submit(server, VALID, ip);
      expect(refused.status).toBe(429);
      expect(codesOf(refused)).toEqual(['RATE_LIMITED']);
      const extensions = refused.errors![0]!.extensions!;
      expect(extensions.reason).toBe('CONTACT_LIMIT');
      // Two an hour: the next one is back after about half an hour.
      expect(extensions.retryAfter).toBeGreaterThan(1700);
      expect(extensions.retryAfter).toBeLessThanOrEqual(1800);
      expect(refused.headers.get('retry-after')).toBe(String(extensions.retryAfter));

      expect((await submit(server, VALID, freshIp())).errors).toBeUndefined();
    });

    it('an address is counted whoever asks: an API key does not lift the limit', async () => {
      const ip = freshIp();
      const withKey = () =>
        gql(
          server,
          SUBMIT,
          { input: VALID },
          { apiKey: 'key-alice', headers: { 'x-forwarded-for': ip } },
        );
      expect((await withKey()).errors).toBeUndefined();
      expect((await submit(server, VALID, ip)).errors).toBeUndefined();
      expect(codesOf(await withKey())).toEqual(['RATE_LIMITED']);
    });
  },
);

describe('the contact limit across instances', () => {
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    const env = { ...PROXY_ENV, CONTACT_LIMIT_PER_HOUR: '2' };
    first = await startServer({ backend: 'redis', env });
    second = await startServer({ backend: 'redis', keyPrefix: first.keyPrefix, env });
  });

  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it('is shared through Redis: one address gets the limit once, not once per instance', async () => {
    const ip = freshIp();
    expect((await submit(first, VALID, ip)).errors).toBeUndefined();
    expect((await submit(second, VALID, ip)).errors).toBeUndefined();
    expect(codesOf(await submit(first, VALID, ip))).toEqual(['RATE_LIMITED']);
    expect(codesOf(await submit(second, VALID, ip))).toEqual(['RATE_LIMITED']);
  });
});

describe('submitContact without an API key in production', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { ...PROXY_ENV, NODE_ENV: 'production' } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('works for a caller with no key', async () => {
    const response = await submit(server, VALID);
    expect(response.status).toBe(200);
    expect(response.data?.submitContact.id).toMatch(/^con_/);
  });

  it('every other operation still needs a key', async () => {
    for (const query of [
      '{ viewer { principal } }',
      '{ health { status } }',
      'mutation { createSession(input: {}) { id } }',
      // The public field beside another: the whole operation needs a key.
      `mutation { submitContact(input: { name: "a", email: "a@example.org", message: "m" }) { id }
        createSession(input: {}) { id } }`,
      // Fragments could carry any field: an operation that uses them is never public.
      `mutation { ...F } fragment F on Mutation {
        submitContact(input: { name: "a", email: "a@example.org", message: "m" }) { id } }`,
    ]) {
      const response = await gql(server, query, {}, { headers: { 'x-forwarded-for': freshIp() } });
      expect(response.status, query).toBe(401);
      expect(codesOf(response), query).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('of several operations in a document, only the public one runs without a key', async () => {
    const document = `query Me { viewer { principal } }
      mutation Contact { submitContact(input: { name: "a", email: "a@example.org", message: "m" }) { id } }`;
    const run = (operationName: string) =>
      fetch(server.httpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': freshIp() },
        body: JSON.stringify({ query: document, operationName }),
      });
    expect((await run('Contact')).status).toBe(200);
    expect((await run('Me')).status).toBe(401);
  });

  it('a wrong key is still refused, even for the contact form', async () => {
    const response = await gql(
      server,
      SUBMIT,
      { input: VALID },
      { apiKey: 'not-a-key', headers: { 'x-forwarded-for': freshIp() } },
    );
    expect(codesOf(response)).toEqual(['FORBIDDEN']);
  });
});

/** A webhook receiver: answers `status`, and hands over each body it got. */
class Receiver {
  readonly bodies: unknown[] = [];
  status = 204;
  private server: Server | undefined;
  private waiters: (() => void)[] = [];
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        response.writeHead(this.status, { 'content-type': 'text/plain' });
        response.end(this.status >= 300 ? 'receiver secret stack trace' : '');
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/contact?token=hook-secret`;
  }

  /** Resolves once `count` bodies have arrived. */
  received(count: number): Promise<unknown[]> {
    return withTimeout(
      new Promise<unknown[]>((resolve) => {
        const check = () => {
          if (this.bodies.length >= count) resolve(this.bodies);
          else this.waiters.push(check);
        };
        check();
      }),
      `${count} webhook bodies`,
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe.each<BackendKind>(['memory', 'redis'])('the contact webhook (%s backend)', (backend) => {
  let receiver: Receiver;
  let server: TestServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    receiver = await new Receiver().start();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    server = await startServer({
      backend,
      env: { ...PROXY_ENV, CONTACT_WEBHOOK_URL: receiver.url },
      overrides: { log: createLogger('info', sink) },
    });
  });

  afterAll(async () => {
    await server.close();
    await receiver.stop();
  });

  it('receives each stored submission as JSON, and admin lists its breaker', async () => {
    const submitted = (await submit(server, VALID)).data!.submitContact;
    const [body] = await receiver.received(1);
    expect(body).toEqual({ type: 'contact.submitted', contact: submitted });
    expect(await webhookBreaker(server)).toMatchObject({ state: 'CLOSED', failures: 0 });
    await until(async () => ((await webhookBreaker(server))?.successes ?? 0) >= 1, {
      what: 'the breaker to count the delivery',
    });
  });

  it('a receiver answering 500 fails the forward only: the submission succeeds and is listed', async () => {
    receiver.status = 500;
    const seen = receiver.bodies.length;
    const response = await submit(server, { ...VALID, message: 'while the hook fails' });
    expect(response.errors).toBeUndefined();
    const submitted = response.data!.submitContact;
    await receiver.received(seen + 1);
    await until(async () => ((await webhookBreaker(server))?.failures ?? 0) >= 1, {
      what: 'the breaker to count the failure',
    });
    const { edges } = (await listContacts(server)).admin.contacts;
    expect(edges.map((edge) => edge.node.id)).toContain(submitted.id);
    receiver.status = 204;

    const failure = logLines.find((line) => line.includes('contact webhook failed'));
    expect(failure).toContain(submitted.id);
    expect(failure).toContain('500');
    for (const line of logLines) {
      expect(line).not.toContain('hook-secret');
      expect(line).not.toContain('while the hook fails');
      expect(line).not.toContain('receiver secret stack trace');
    }
  });
});

describe('a contact webhook that is down', () => {
  let server: TestServer;

  beforeAll(async () => {
    const closedPort = await freePort();
    server = await startServer({
      env: { ...PROXY_ENV, CONTACT_WEBHOOK_URL: `http://127.0.0.1:${closedPort}/hook` },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('never fails the mutation or loses the submission; the breaker counts each failure', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 2; index++) {
      const response = await submit(server, { ...VALID, message: `unforwarded ${index}` });
      expect(response.errors).toBeUndefined();
      ids.push(response.data!.submitContact.id);
    }
    await until(async () => ((await webhookBreaker(server))?.failures ?? 0) >= 2, {
      what: 'the breaker to count both failures',
    });
    const { edges } = (await listContacts(server)).admin.contacts;
    expect(edges.map((edge) => edge.node.id)).toEqual([ids[1], ids[0]]);
  });
});

describe('contact configuration', () => {
  it.each([
    ['CONTACT_LIMIT_PER_HOUR', '0'],
    ['CONTACT_LIMIT_PER_HOUR', 'five'],
    ['CONTACT_WEBHOOK_URL', 'ftp://hooks.example.org/contact'],
    ['CONTACT_WEBHOOK_URL', 'not a url'],
  ])('a bad %s (%s) stops the start, naming the variable', (variable, value) => {
    const load = () => loadConfig({ NODE_ENV: 'test', [variable]: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(new RegExp(`^Invalid ${variable}: `));
  });

  it('defaults to 5 an hour and no webhook', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).contact).toMatchObject({
      limitPerHour: 5,
      webhookUrl: undefined,
    });
  });
});
