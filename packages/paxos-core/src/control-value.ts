import { isNoop } from './bytes.js';
import { decodeCheckpointReport, type CheckpointReport } from './checkpoint-report.js';
import { decodeMasterOp, type MasterOp } from './master-op.js';

/**
 * A value the protocol puts in the log for itself, never an application's: a Paxos value that is
 * decided like any other but never applied to a state machine, never delivered and never counted
 * as a client value. Each is LibPaxos3's client payload with a negative client id that no
 * LibPaxos3 client and none of ours draws, so C learners and clients read them as another
 * client's values:
 * - `noop` (client id −1, and the empty value of earlier builds): closes a hole (bytes.ts);
 * - `master-op` (−2): leader election with a lease (master-op.ts, leadership.ts);
 * - `checkpoint-report` (−3): a node's durable checkpoint, for trimming (checkpoint-report.ts).
 */
export type ControlValue =
  | { readonly kind: 'noop' }
  | { readonly kind: 'master-op'; readonly op: MasterOp }
  | { readonly kind: 'checkpoint-report'; readonly report: CheckpointReport };

const NOOP_VALUE: ControlValue = { kind: 'noop' };

/**
 * What control value `value` is, or undefined for an application's value. The one place that
 * decides it: learners (what they deliver), proposers and replica handles (what clients may not
 * submit), evpaxos's state-machine path (what is applied) and the simulator's oracle (what
 * applications must receive) all ask here. Cheap on client values: the empty check, then the
 * first byte (0xff, 0xfe or 0xfd: client ids −1, −2, −3 in little-endian), before any decoding.
 */
export function controlValue(value: Uint8Array): ControlValue | undefined {
  if (value.length === 0) return NOOP_VALUE;
  switch (value[0]) {
    case 0xff:
      return isNoop(value) ? NOOP_VALUE : undefined;
    case 0xfe: {
      const op = decodeMasterOp(value);
      return op === undefined ? undefined : { kind: 'master-op', op };
    }
    case 0xfd: {
      const report = decodeCheckpointReport(value);
      return report === undefined ? undefined : { kind: 'checkpoint-report', report };
    }
    default:
      return undefined;
  }
}

/** Whether `value` is a control value (see `controlValue`): never applied, delivered or counted as an application's. */
export function isControlValue(value: Uint8Array): boolean {
  return controlValue(value) !== undefined;
}
