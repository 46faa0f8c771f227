// Rotating the user's key of an encrypted store: the store's data and name keys are
// unwrapped with the current key and wrapped again with the new one; only store.json
// changes (its MAC is recomputed), no object is rewritten. One call at a time per store.
import { readStoreInfo, type EngineContext } from './catalog.js';
import { encodeJson } from './manifest.js';
import { macFields, openStoreCodec } from './store-codec.js';
import { badKey, storeInfoMac, wrapStoreKeys } from './store-keys.js';
import { STORE_FILE_KEY } from './store-layout.js';
import { CairnError, ErrorCodes } from '../errors.js';

export async function rotateStoreKey(ctx: EngineContext, newKey: Buffer): Promise<void> {
  const info = await readStoreInfo(ctx.store);
  if (info === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `No backup store at ${ctx.store.url}`, { details: { url: ctx.store.url } });
  if (info.encryption === undefined) throw badKey(`The backup store ${ctx.store.url} is not encrypted: there is no key to rotate`, ctx.store.url);
  const { keys } = openStoreCodec(info, ctx.userKey, undefined, ctx.store.url);
  const next = { ...info, encryption: { algorithm: info.encryption.algorithm, wrappedKeys: wrapStoreKeys(keys!, newKey, info.storeId) } };
  next.mac = storeInfoMac(keys!, macFields(next));
  // A plain replace: readers see the old or the new store.json, and both open the same keys.
  await ctx.store.put(STORE_FILE_KEY, encodeJson(next));
}
