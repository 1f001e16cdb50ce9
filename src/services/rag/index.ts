import type { Tracer } from '@opentelemetry/api';
import type { Config } from '../../config.js';
import type { Backend } from '../../infra/backend/types.js';
import type { BreakerRegistry } from '../../infra/breakers.js';
import type { Logger } from '../../infra/logger.js';
import type { LlmMetrics } from '../../infra/metrics.js';
import { OramaSearchIndex } from '../../infra/search/orama-index.js';
import { isLlmOutage } from '../llm/chain.js';
import type { LlmChain } from '../llm/index.js';
import { type Embedder, OpenAiEmbedder } from './embeddings.js';
import { LocalEmbedder } from './local-embedding.js';
import { RagService } from './rag-service.js';

export { RagService } from './rag-service.js';

/** Retrieval as configured: the OpenAI-compatible embedder (own breaker) or the local one. */
export function createRagService(parts: {
  config: Config;
  backend: Backend;
  llm: LlmChain;
  breakers: BreakerRegistry;
  log: Logger;
  metrics?: LlmMetrics;
  tracer?: Tracer;
}): RagService {
  const { config, backend, llm, breakers, log, metrics, tracer } = parts;
  const settings = config.rag.embeddings;
  const embedder: Embedder = settings
    ? new OpenAiEmbedder({
        ...settings,
        retry: config.llm.retry,
        breaker: breakers.create('embeddings', {
          kind: 'llm',
          timeout: false,
          isOutage: isLlmOutage,
        }),
        log,
        metrics,
        tracer,
      })
    : new LocalEmbedder();
  return new RagService({
    store: backend.documents,
    index: new OramaSearchIndex(),
    embedder,
    llm,
    config: config.rag,
    answerTimeoutMs: config.llm.totalTimeoutMs,
    log,
  });
}
