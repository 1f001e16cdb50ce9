import type { Tracer } from '@opentelemetry/api';
import type { Config } from '../../config.js';
import type { BreakerRegistry } from '../../infra/breakers.js';
import type { Logger } from '../../infra/logger.js';
import type { LlmMetrics } from '../../infra/metrics.js';
import { isLlmOutage, LlmChain } from './chain.js';
import { LocalProvider } from './local.js';
import { OpenAiProvider } from './openai.js';

export { LlmChain } from './chain.js';
export type {
  ChatTurn,
  Completion,
  CompletionRequest,
  LlmChunk,
  LlmProvider,
  OfflineTask,
  StructuredOutput,
} from './types.js';
export { GenerationFailure } from './types.js';

/** The configured chain: the local responder, or every endpoint's models, each behind a breaker. */
export function createLlmChain({
  llm,
  breakers,
  log,
  metrics,
  tracer,
}: {
  llm: Config['llm'];
  breakers: BreakerRegistry;
  log: Logger;
  metrics?: LlmMetrics;
  tracer?: Tracer;
}): LlmChain {
  const breakerOptions = { kind: 'llm', timeout: false, isOutage: isLlmOutage } as const;
  if (llm.provider === 'local') {
    const provider = new LocalProvider(llm.localTokenDelayMs);
    return new LlmChain({
      links: [
        { provider, breaker: breakers.create(`llm:local:${provider.model}`, breakerOptions) },
      ],
      retry: llm.retry,
      log,
      metrics,
    });
  }
  const links = llm.endpoints.flatMap((endpoint) =>
    endpoint.models.map((model) => ({
      provider: new OpenAiProvider({
        baseURL: endpoint.baseURL,
        apiKey: endpoint.apiKey,
        model,
        firstTokenTimeoutMs: llm.firstTokenTimeoutMs,
        idleTimeoutMs: llm.idleTimeoutMs,
        totalTimeoutMs: llm.totalTimeoutMs,
        maxCompletionTokens: llm.maxCompletionTokens,
        structuredOutput: llm.structuredOutput,
        tracer,
      }),
      breaker: breakers.create(`llm:${endpoint.name}:${model}`, breakerOptions),
    })),
  );
  return new LlmChain({ links, retry: llm.retry, log, metrics });
}
