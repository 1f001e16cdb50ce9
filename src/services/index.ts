import type { AdminService } from './admin.js';
import type { ChatService } from './chat/chat-service.js';
import type { ContactService } from './contact.js';
import type { HealthService } from './health.js';
import type { PointBuckets } from './limits/point-buckets.js';
import type { TokenBudgets } from './limits/token-budgets.js';
import type { PersonaService } from './personas.js';
import type { RagService } from './rag/rag-service.js';
import type { StreamService } from './streams/stream-service.js';
import type { TextService } from './text/text-service.js';

/** Everything a resolver may call, built once by the composition root. */
export interface Services {
  chat: ChatService;
  streams: StreamService;
  personas: PersonaService;
  health: HealthService;
  admin: AdminService;
  points: PointBuckets;
  tokenBudgets: TokenBudgets;
  rag: RagService;
  text: TextService;
  contact: ContactService;
}
