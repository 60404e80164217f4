// The iommu-lab DMA engine's registers, as its driver knows them (the datasheet is the
// comment at the top of the device model's register file; this is the driver's own copy).

export const DMAE_ID_VALUE = 0x444d4145; // "DMAE"

export const DMAE = {
  ID: 0x00,
  VERSION: 0x04,
  CONTROL: 0x08,
  STATUS: 0x0c,
  SRC_LO: 0x10,
  SRC_HI: 0x14,
  DST_LO: 0x18,
  DST_HI: 0x1c,
  LENGTH: 0x20,
  PASID: 0x24,
  FILL_LO: 0x28,
  FILL_HI: 0x2c,
  ERR_ADDR_LO: 0x30,
  ERR_ADDR_HI: 0x34,
  PROGRESS: 0x38,
} as const;

export const DMAE_CTRL = {
  START: 1 << 0,
  ABORT: 1 << 1,
  IE: 1 << 2,
  OP_SHIFT: 4,
  PV: 1 << 8,
  PRIV: 1 << 9,
} as const;

export const DMAE_OP = { copy: 0, fill: 1, 'read-verify': 2 } as const;
export type DmaEngineOp = keyof typeof DMAE_OP;

export const DMAE_STATUS = {
  BUSY: 1 << 0,
  DONE: 1 << 1,
  ERROR: 1 << 2,
  CAUSE_SHIFT: 4,
  CAUSE_MASK: 7,
  ERR_WRITE: 1 << 7,
} as const;

/** STATUS.CAUSE values, by name. */
export const DMAE_CAUSES = ['none', 'aborted', 'bus-error', 'poisoned', 'mismatch', 'invalid-operation', 'software-abort', 'reserved'] as const;
