export { Checker, type CheckerOptions, type LossAccount, type Sender } from './checker.js';
export { DeliveryStream } from './delivery-stream.js';
export { EventQueue } from './event-queue.js';
export { MUTANTS, MUTANT_OVERRIDES, describeOptions, drawOptions, type Mutant, type SimOptions, type SimOverrides } from './options.js';
export { Simulation, simulate, type FaultCounts, type SimResult } from './simulation.js';
export { makeValue, valueId } from './workload.js';
