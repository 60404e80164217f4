// The report as one JSON document: the Report's own key order (so the same run gives the same
// bytes), 64-bit values (bigint) as "0x..." strings. Only time.wallMs differs between runs.

import type { Report } from './types.js';

export function toJsonValue(value: unknown): unknown {
  return JSON.parse(reportJson(value, 0));
}

/** Any value with bigints as hex strings, pretty-printed with `indent` spaces. */
export function reportJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), indent);
}

export function formatReportJson(report: Report): string {
  return `${reportJson(report)}\n`;
}
