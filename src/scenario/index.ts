// Scenarios: the YAML format of docs/scenarios.md (kernel scenarios, and hypervisor scenarios
// with `hypervisor: xen`), its loader and its runner.
//
//   const { report, error } = new ScenarioRunner(loadScenario('my.yaml')).run();

export { loadScenario, parseScenario, formatPath, type LoadedScenario, type ScenarioSource, type KeyPath } from './load.js';
export { ScenarioRunner, machineOptions, type RunOptions, type RunResult, type Progress } from './run.js';
export { ScenarioError, stepName } from './errors.js';
export { STEP_KINDS, type Scenario, type Step, type StepKind, type PlatformSpec, type ScenarioConfig } from './schema.js';
export { XEN_STEP_KINDS } from './step-kinds.js';
export { type XenStep, type XenStepKind, type XenAddress, type FaultKind } from './xen/schema.js';
export { XenSession, describeXenFault, type GuestRecord, type GuestBuffer } from './xen/session.js';
export { causeByName, formatCause, type RecordedFault } from './faults.js';
export { findDevice, hardwareIdentity, type HardwareIdentity } from './devices.js';
export { loadPlatform, type PlatformTree } from './platform.js';
export { parseAddressText, numberFromText, formatSize, type AddressExpr, type DataSpec } from './values.js';

export { builtinScenarioFile, defaultScenarioFile, listBuiltinScenarios, DEFAULT_SCENARIO, type BuiltinScenario } from './builtin/index.js';
export { explainTranslation, type Explanation, type ExplainRequest, type ExplainedAccess, type ExplainedCache, type CacheOutcome } from './explain/index.js';
