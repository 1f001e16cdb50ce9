import type { Persona } from '../model.js';
import { builder } from './builder.js';

export const PersonaRef = builder.objectRef<Persona>('Persona').implement({
  description: 'A system prompt the assistant answers with; chosen per session.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
  }),
});
