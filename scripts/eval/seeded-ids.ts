import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';

/**
 * Repeatable UUIDs from a seed (splitmix32), for measurements only. Document and chunk ids are
 * random UUIDs, and the search index and the rank fusion order equal scores by chunk id, so two
 * ingests of one corpus can rank tied chunks differently; with seeded ids a run repeats exactly.
 * The shape is a version-4 UUID; nothing here is fit for anything secret.
 */
export function seededUuids(seed = 1): () => `${string}-${string}-${string}-${string}-${string}` {
  let state = seed >>> 0;
  const next32 = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b) >>> 0;
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35) >>> 0;
    return (mixed ^ (mixed >>> 16)) >>> 0;
  };
  return () => {
    const hex = Array.from({ length: 4 }, () => next32().toString(16).padStart(8, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
}

/**
 * Replaces node:crypto's randomUUID in this process, for modules that import it by name too;
 * returns the function that puts the real one back.
 */
export function installSeededUuids(seed = 1): () => void {
  const original = crypto.randomUUID;
  crypto.randomUUID = seededUuids(seed);
  syncBuiltinESMExports();
  return () => {
    crypto.randomUUID = original;
    syncBuiltinESMExports();
  };
}
