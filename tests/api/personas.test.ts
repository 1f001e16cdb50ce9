import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlData } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

type Persona = { id: string; name: string; description: string };

const CREATE = /* GraphQL */ `
  mutation ($input: CreateSessionInput!) {
    createSession(input: $input) { id persona { id name description } }
  }
`;

describe('personas', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('lists at least default, engineer, researcher, speaker and educator', async () => {
    const data = await gqlData<{ personas: Persona[] }>(
      server,
      '{ personas { id name description } }',
    );

    expect(data.personas.map((persona) => persona.id)).toEqual(
      expect.arrayContaining(['default', 'engineer', 'researcher', 'speaker', 'educator']),
    );
  });

  it('gives every persona a unique id, a name and a description', async () => {
    const data = await gqlData<{ personas: Persona[] }>(
      server,
      '{ personas { id name description } }',
    );

    expect(new Set(data.personas.map((persona) => persona.id)).size).toBe(data.personas.length);
    for (const persona of data.personas) {
      expect(persona.name.trim()).not.toBe('');
      expect(persona.description.trim()).not.toBe('');
    }
  });

  it('creates a session with the persona asked for', async () => {
    const listed = await gqlData<{ personas: Persona[] }>(
      server,
      '{ personas { id name description } }',
    );

    const data = await gqlData<{ createSession: { id: string; persona: Persona } }>(
      server,
      CREATE,
      {
        input: { persona: 'engineer' },
      },
    );

    expect(data.createSession.persona).toEqual(listed.personas.find((p) => p.id === 'engineer'));
  });

  it('keeps the persona on the stored session', async () => {
    const created = await gqlData<{ createSession: { id: string } }>(server, CREATE, {
      input: { persona: 'researcher' },
    });

    const data = await gqlData<{ session: { persona: { id: string } } }>(
      server,
      'query ($id: ID!) { session(id: $id) { persona { id } } }',
      { id: created.createSession.id },
    );

    expect(data.session.persona.id).toBe('researcher');
  });

  it('gives a session created without a persona the default persona', async () => {
    const data = await gqlData<{ createSession: { persona: Persona } }>(server, CREATE, {
      input: {},
    });

    expect(data.createSession.persona.id).toBe('default');
  });
});
