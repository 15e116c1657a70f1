// thread-kill/stress: the stress harness as a library.
export { SCENARIOS, NATIVE_SCENARIOS, UNKILLABLE_SCENARIOS, releaseUnkillable, scenarioByName, scenarioSource, scenarioFiles, PRELUDE } from './scenarios';
export type { Scenario, Op, UnkillableScenario } from './scenarios';
export { startHung, SiblingKiller, waitFlag, inSyscall, inNativeCode, signalReady } from './harness';
export type { HungThread, StartOptions, Killer } from './harness';
export { stress, ALL_OPS, ALL_KILLERS, SCRIPT_KILLERS } from './run';
export type { StressOptions, StressReport, StressRow, StressProgress } from './run';
export type { MemoryVerdict } from './memory';
export { runRoundHere, ParentKiller, SCRIPT_NEEDS } from './round';
export type { RoundSpec, RoundResult } from './round';
