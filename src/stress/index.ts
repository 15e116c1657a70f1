// thread-kill/stress: the stress harness as a library.
export { SCENARIOS, NATIVE_SCENARIOS, scenarioByName, scenarioSource, scenarioFiles, PRELUDE } from './scenarios';
export type { Scenario, Op } from './scenarios';
export { startHung, SiblingKiller, waitFlag, inSyscall } from './harness';
export type { HungThread, StartOptions, Killer } from './harness';
