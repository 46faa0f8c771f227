// What a Shipper gets from its BackupEngine: the store, the object codec, where objects
// are built (the worker pool, or in-process through an injected file system), the base
// backup, and the store's owner. Stateless.
import type { Keyspace } from '../keyspace/keyspace.js';
import { type EngineContext, claimStore, openExistingStore, readAllManifests, readStoreInfo } from './catalog.js';
import { defaultCompression } from './object-codec.js';
import { buildOnWorker, buildShippedObject } from './ship-job.js';
import type { ShippedCodec } from './shipped-codec.js';
import type { ShipperContext } from './shipper.js';

/**
 * How this engine stores shipped objects. Until the engine carries the store's codec
 * settings (store format 2), they are compressed with the default and not encrypted.
 */
export function shippedCodecOf(_ctx: EngineContext): ShippedCodec {
  return { compression: defaultCompression() };
}

export function shipperContext(ctx: EngineContext, backup: (ks: Keyspace) => Promise<{ seqno: number }>): ShipperContext {
  return {
    store: ctx.store,
    codec: shippedCodecOf(ctx),
    // copyHashed is there exactly when the engine uses the real file system, which a thread can share.
    build: ctx.copyHashed !== undefined ? (payload) => buildOnWorker(payload) : (payload) => buildShippedObject(ctx.fs, payload),
    backup,
    newestBackupSeqno: async (keyspaceId) => {
      let newest: number | undefined;
      // No store.json yet: a new store, no backup.
      const info = await readStoreInfo(ctx.store);
      if (info === undefined) return undefined;
      const { codec } = await openExistingStore(ctx);
      for (const m of (await readAllManifests(ctx.store, codec)).manifests) if (m.keyspaceId === keyspaceId) newest = Math.max(newest ?? 0, m.seqno);
      return newest;
    },
    claim: async (keyspaceId) => (await claimStore(ctx, keyspaceId, false)).info.storeId,
  };
}
