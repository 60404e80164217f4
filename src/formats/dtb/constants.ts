// Numbers of the flattened device tree format (Devicetree Specification v0.4, chapter 5).
// All multi-byte fields of a blob are big-endian.

/** Header field `magic` (5.2). */
export const FDT_MAGIC = 0xd00dfeed;

/** Structure block tokens (5.4.1). */
export const FDT_BEGIN_NODE = 0x00000001;
export const FDT_END_NODE = 0x00000002;
export const FDT_PROP = 0x00000003;
export const FDT_NOP = 0x00000004;
export const FDT_END = 0x00000009;

/** The version this writer emits, and the oldest version it claims compatibility with (5.2). */
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
/** The reader accepts blobs whose version is at least this... */
export const FDT_FIRST_SUPPORTED_VERSION = 16;
/** ...and whose last_comp_version is at most this. */
export const FDT_LAST_SUPPORTED_VERSION = 17;

/** Header sizes: version 16 lacks size_dt_struct, which version 17 appends. */
export const FDT_V16_HEADER_SIZE = 36;
export const FDT_V17_HEADER_SIZE = 40;

/** Byte offsets of the header fields (5.2). */
export const HEADER = {
  magic: 0,
  totalsize: 4,
  off_dt_struct: 8,
  off_dt_strings: 12,
  off_mem_rsvmap: 16,
  version: 20,
  last_comp_version: 24,
  boot_cpuid_phys: 28,
  size_dt_strings: 32,
  size_dt_struct: 36,
} as const;

/** A memory reservation entry is two 64-bit values, address then size (5.3.2). */
export const FDT_RESERVE_ENTRY_SIZE = 16;
/** The reservation block must start on an 8-byte boundary (5.3.1). */
export const FDT_RESERVE_ALIGN = 8;
/** Tokens, and so the structure block, are aligned to 4 bytes (5.4.2). */
export const FDT_TAGSIZE = 4;
