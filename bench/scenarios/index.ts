import type { Scenario } from '../harness/scenario.js';
import { fanout } from './fanout.js';
import { protection } from './protection.js';
import { query } from './query.js';
import { rag } from './rag.js';
import { resilience } from './resilience.js';
import { scale } from './scale.js';
import { soak } from './soak.js';
import { ttft } from './ttft.js';

/** Every scenario, in the order `npm run bench` runs them. A new one is one line here. */
export const SCENARIOS: readonly Scenario[] = [
  query,
  protection,
  fanout,
  ttft,
  scale,
  soak,
  resilience,
  rag,
];
