import type { AdminService } from './admin.js';
import type { ChatService } from './chat.js';
import type { HealthService } from './health.js';
import type { PersonaService } from './personas.js';
import type { StreamService } from './streams.js';

/** Everything a resolver may call, built once by the composition root. */
export interface Services {
  chat: ChatService;
  streams: StreamService;
  personas: PersonaService;
  health: HealthService;
  admin: AdminService;
}
