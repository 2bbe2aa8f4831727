import type { PaxosConfig } from './config.js';
import { LmdbStorage } from './storage/lmdb.js';
import { MemoryStorage } from './storage/memory.js';
import type { AcceptorStorage } from './storage/types.js';

export { LmdbStorage, type LmdbOptions } from './storage/lmdb.js';
export { MemoryStorage } from './storage/memory.js';
export { StorageError, type AcceptorStorage, type StoredState } from './storage/types.js';

/** The storage `storage-backend` asks for, for acceptor `aid`; `warn` hears of trouble that does not stop it. */
export function openStorage(config: PaxosConfig, aid: number, warn?: (line: string) => void): AcceptorStorage {
  if (config.storageBackend === 'memory') return new MemoryStorage();
  return new LmdbStorage({
    envPath: config.lmdbEnvPath,
    aid,
    sync: config.lmdbSync,
    mapSize: config.lmdbMapsize,
    pageSize: config.lmdbPageSize,
    segmentInstances: config.lmdbSegmentInstances,
    trash: config.acceptorTrashFiles,
    ...(warn !== undefined ? { warn } : {}),
  });
}
