import type DataLoader from 'dataloader';
import { NotFound } from '../errors.js';

/** A record the caller may see, through its request's loader; anything else is NOT_FOUND. */
export async function loadOwned<T>(
  loader: DataLoader<string, T | null>,
  what: string,
  id: string,
): Promise<T> {
  const record = await loader.load(id);
  if (!record) throw new NotFound(what, id);
  return record;
}
