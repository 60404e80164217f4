import { DeviceTreeError } from '../devicetree/tree.js';

/** Formats a byte offset the way the error messages and `fdtdump` show them. */
export function hexOffset(offset: number): string {
  return `0x${offset.toString(16)}`;
}

/** Formats a 32-bit word as 8 hex digits (magic numbers, tokens). */
export function hexWord(word: number): string {
  return `0x${(word >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * A malformed flattened device tree. A blob has no lines, so instead of a SourceLocation
 * it carries the byte offset in the blob where reading failed, and keeps what was
 * expected and what was found as fields so that tools can show them separately.
 */
export class DtbError extends DeviceTreeError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${file}: byte offset ${hexOffset(offset)}: expected ${expected}, found ${found}`);
    this.name = 'DtbError';
  }
}
