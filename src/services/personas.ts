import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import matter from 'gray-matter';
import { BadInput, echo } from '../errors.js';
import type { Persona } from '../model.js';

export type { Persona };

export const DEFAULT_PERSONA = 'default';

/**
 * Personas are markdown files: front matter `name` and `description`, the body is the system
 * prompt. They are read once at start; the file name (without `.md`) is the id.
 */
export class PersonaService {
  private readonly personas: ReadonlyMap<string, Persona>;

  constructor(directory: string) {
    const files = readdirSync(directory).filter((file) => file.endsWith('.md'));
    this.personas = new Map(
      files
        .sort()
        .map((file) =>
          parsePersona(basename(file, '.md'), readFileSync(join(directory, file), 'utf8')),
        )
        .map((persona) => [persona.id, persona]),
    );
    if (!this.personas.has(DEFAULT_PERSONA)) {
      throw new Error(`The personas directory has no ${DEFAULT_PERSONA}.md`);
    }
  }

  list(): Persona[] {
    return [...this.personas.values()];
  }

  find(id: string): Persona | undefined {
    return this.personas.get(id);
  }

  /** The persona for a new session; an unknown id is the caller's mistake. */
  resolve(id: string | null | undefined): Persona {
    const personaId = id ?? DEFAULT_PERSONA;
    const persona = this.personas.get(personaId);
    if (!persona) {
      throw new BadInput(
        `Unknown persona "${echo(personaId)}". Known personas: ${[...this.personas.keys()].join(', ')}.`,
        { field: 'persona' },
      );
    }
    return persona;
  }
}

function parsePersona(id: string, source: string): Persona {
  const { data, content } = matter(source);
  const name = typeof data.name === 'string' ? data.name : id;
  const description = typeof data.description === 'string' ? data.description : '';
  return { id, name, description, systemPrompt: content.trim() };
}
