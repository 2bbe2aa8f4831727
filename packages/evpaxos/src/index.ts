export { CheckpointStore, type CheckpointInfo } from './checkpoint-store.js';
export { FrameDecoder, WireError, encodeMessage, type ExtensionFrame, type Frame } from './codec.js';
export { EXTENSION_CODE, ExtensionError, SUBMIT_ONLY_FEATURE, SUBMIT_ONLY_HELLO, decodeExtension, encodeExtension, type ExtensionMessage, type HelloMsg } from './extensions.js';
export { readAll, snapshotChunks, type SnapshotData, type StateMachine } from './state-machine.js';
export { GC_TUNING_ENV, HEAP_GROWING_PERCENT, gcTuning, tuneGarbageCollector } from './gc-tuning.js';
export { VERSION } from './version.js';
export {
  ConfigError,
  MAX_ACCEPTORS,
  MAX_PROPOSERS,
  durationMs,
  formatAddress,
  formatHostPort,
  isProcessKey,
  parseConfig,
  readConfig,
  resolveConfig,
  type Address,
  type ConfigPath,
  type HostLookup,
  type LogFormat,
  type PaxosConfig,
  type TlsConfig,
  type Verbosity,
} from './config.js';
export { RateLimitedLogger, SUMMARY_INTERVAL_MS, createLogger, limitRepeats, silentLogger, timestamp, type LogFields, type LogLevel, type LogSource, type Logger } from './log.js';
export { MetricsServer, ProcessMetrics, type Health, type MetricSources, type MetricsOptions, type ProcessIdentity } from './metrics.js';
export { Network, type NetworkOptions, type NetworkStats, type Traffic } from './network.js';
export { DIGEST_MIN_VALUE_BYTES } from './config.js';
export {
  startAcceptor,
  startLearner,
  startProposer,
  startReplica,
  type CommonOptions,
  type DeliverCallback,
  type LearnerHandle,
  type LeadershipApi,
  type PaxosHandle,
  type ProposerHandle,
  type ReplicaHandle,
} from './processes.js';
export { PendingProposals, isReservedValue, type Proposed } from './proposals.js';
export { Pump, logEvent, type PumpOptions, type PumpedRole } from './pump.js';
export { RoundFile } from './round-file.js';
export { LmdbStorage, MemoryStorage, StorageError, openStorage, type AcceptorStorage, type LmdbOptions, type StoredState } from './storage.js';
export { ANONYMOUS_NAMES, certificateIdentity, loadTls, memberNames, processNamesOf, type CertificateIdentity, type TlsMaterial } from './tls.js';
export { PeerIdentityError, dialProblem, plainTransport, tlsTransport, transportFor, type Refusal, type Transport } from './transport.js';
