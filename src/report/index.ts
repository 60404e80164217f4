// Reports of scenario runs: typed numbers (types.ts), collected from the machine and the
// kernel (collect.ts), printed as aligned text or stable JSON.

export * from './types.js';
export { collectReport, type ReportInput } from './collect.js';
export { collectHypervisorReport, hypervisorFault, noDma, type HypervisorInput } from './hypervisor.js';
export { iommuReport, iommuCounters, ipmmuCounters, ipmmuName, type IommuCounters } from './architectures/index.js';
export { formatReport, table, percent } from './text.js';
export { formatReportJson, reportJson, toJsonValue } from './json.js';
export { formatExplanation } from './explain-text.js';
