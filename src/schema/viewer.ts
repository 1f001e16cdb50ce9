import type { Principal } from '../model.js';
import { builder } from './builder.js';

export const ViewerRef = builder.objectRef<Principal>('Viewer').implement({
  description: 'Who the server takes the caller to be.',
  fields: (t) => ({
    principal: t.exposeString('id'),
    scopes: t.exposeStringList('scopes'),
    anonymous: t.exposeBoolean('anonymous', {
      description: 'True in development mode without API keys.',
    }),
  }),
});
