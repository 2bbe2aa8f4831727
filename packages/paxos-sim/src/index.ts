export { Checker } from './checker.js';
export { EventQueue } from './event-queue.js';
export type { NodeKind, SimObservation, SimObserver } from './observer.js';
export { MUTANTS, describeOptions, drawOptions, type Mutant, type SimOptions, type SimOverrides } from './options.js';
export { Recorder, countUpTo, countsAt, valueLabel, type Counts, type Decision, type Downtime, type MessageFate, type PartitionSpan, type RecordedMessage, type RecordedNode, type Recording } from './recording.js';
export { resultLine } from './result-line.js';
export { RunCommandError, parseRunCommand, replayCommand, runOverrides, wholeNumber, type ParsedRun, type RunFlags } from './run-command.js';
export { Simulation, simulate, type FaultCounts, type SimResult } from './simulation.js';
export { makeValue, valueId } from './workload.js';
