import type { PersistRecord } from '@libpaxos/paxos-core';
import type { AcceptorStorage, StoredState } from './types.js';

/**
 * LibPaxos3's memory backend: nothing survives a restart. The core already holds the state, so a
 * commit has nothing to do. Callers warn at start that acceptor state is not durable.
 */
export class MemoryStorage implements AcceptorStorage {
  readonly kind = 'memory';
  readonly location = 'memory';

  load(_memoryWindow: number, _memoryBytes: number): StoredState {
    return { trimIid: 0, records: [], roundFloor: 0, fence: 0 };
  }

  commit(_records: readonly PersistRecord[]): undefined {
    return undefined;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
