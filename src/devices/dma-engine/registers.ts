// The register map of the iommu-lab DMA engine (compatible "iommu-lab,dma-engine"), a simple
// memory-to-memory DMA controller: one transfer at a time, programmed through a 4 KiB page
// of 32-bit registers (64-bit registers may also be accessed with one aligned 8-byte access).
//
//   offset  name           access  meaning
//   0x00    ID             RO      0x444d4145 ("DMAE")
//   0x04    VERSION        RO      0x00010000 (major 1, minor 0)
//   0x08    CONTROL        RW      bit 0 START (write 1 to start; reads 0)
//                                  bit 1 ABORT (write 1 to stop a running transfer; reads 0)
//                                  bit 2 IE    completion interrupt enable
//                                  bits 5:4 OP 0 copy, 1 fill, 2 read-verify, 3 reserved
//                                  bit 8 PV    requests carry the PASID in PASID
//                                  bit 9 PRIV  requests are privileged (with PV)
//   0x0c    STATUS         RO/W1C  bit 0 BUSY (RO)
//                                  bit 1 DONE (W1C) the last transfer ended, well or not
//                                  bit 2 ERROR (W1C) it ended with an error
//                                  bits 6:4 CAUSE (RO) why: see ErrorCause
//                                  bit 7 ERR_WRITE (RO) the failing transaction was a write
//   0x10    SOURCE         RW      64-bit source address (copy, read-verify)
//   0x18    DESTINATION    RW      64-bit destination address (copy, fill)
//   0x20    LENGTH         RW      transfer length in bytes (32 bits)
//   0x24    PASID          RW      bits 19:0: the PASID sent when CONTROL.PV
//   0x28    FILL           RW      64-bit pattern: written by fill, expected by read-verify;
//                                  the byte at address A is pattern byte (A mod 8)
//   0x30    ERROR_ADDRESS  RO      64-bit address where the transfer stopped: the start
//                                  address of the transaction that failed, the address of
//                                  the first mismatching byte (read-verify), or the next
//                                  address to be accessed (software abort)
//   0x38    PROGRESS       RO      bytes completed by the current (or last) transfer: the
//                                  bytes of its completed transactions (plus, on a
//                                  mismatch, the bytes verified before the mismatching one)
//   0x40    BYTES          RO      64-bit count of bytes moved since reset
//   0x48    TRANSFERS      RO      transfers completed without error since reset
//   0x4c    ERRORS         RO      transfers ended by an error since reset
//
// The engine moves data in transactions (bus transactions: PCIe memory requests, AXI bursts)
// of any byte alignment. Each moves min(remaining length, burstBytes (a build parameter of the
// engine, default 64), bytes to the next 4 KiB boundary of SOURCE (copy, read-verify), bytes
// to the next 4 KiB boundary of DESTINATION (copy, fill)): no transaction crosses a 4 KiB
// boundary (PCIe Base Specification section 2.2.7), and an IOMMU translates each once. A
// copy reads a transaction and then writes it. The transfer stops at the first transaction
// the upstream does not complete; nothing of that transaction is written. A timed engine
// issues one transaction per ceil(bytes / bytesPerCycle) cycles.
//
// Other offsets read as zero and ignore writes; so do 1- and 2-byte accesses. START latches
// OP, PV, PRIV, SOURCE, DESTINATION, LENGTH, PASID and FILL: writing them while BUSY changes
// only the next transfer, and START while BUSY is ignored. STATUS.CAUSE, ERR_WRITE,
// ERROR_ADDRESS and PROGRESS describe the last transfer until the next START. The completion
// interrupt is a level: asserted while STATUS.DONE and CONTROL.IE are both set.

export const DMA_ENGINE_COMPATIBLE = 'iommu-lab,dma-engine';
export const DMA_ENGINE_ID = 0x444d4145;
export const DMA_ENGINE_VERSION = 0x0001_0000;
export const DMA_ENGINE_REGION_SIZE = 0x1000n;

export const DmaEngineReg = {
  ID: 0x00,
  VERSION: 0x04,
  CONTROL: 0x08,
  STATUS: 0x0c,
  SOURCE: 0x10,
  DESTINATION: 0x18,
  LENGTH: 0x20,
  PASID: 0x24,
  FILL: 0x28,
  ERROR_ADDRESS: 0x30,
  PROGRESS: 0x38,
  BYTES: 0x40,
  TRANSFERS: 0x48,
  ERRORS: 0x4c,
} as const;

export const Control = {
  START: 1 << 0,
  ABORT: 1 << 1,
  IE: 1 << 2,
  OP_SHIFT: 4,
  OP_MASK: 3 << 4,
  PV: 1 << 8,
  PRIV: 1 << 9,
} as const;

/** The bits of CONTROL that hold state (START and ABORT are actions). */
export const CONTROL_STATE_MASK = Control.IE | Control.OP_MASK | Control.PV | Control.PRIV;

export const Operation = {
  Copy: 0,
  Fill: 1,
  ReadVerify: 2,
} as const;
export type OperationValue = (typeof Operation)[keyof typeof Operation];

export const Status = {
  BUSY: 1 << 0,
  DONE: 1 << 1,
  ERROR: 1 << 2,
  CAUSE_SHIFT: 4,
  CAUSE_MASK: 7 << 4,
  ERR_WRITE: 1 << 7,
} as const;

/** STATUS.CAUSE: 1..3 are the upstream's answer to the failing access (DmaPortStatus). */
export const ErrorCause = {
  None: 0,
  /** The IOMMU aborted the access. */
  Aborted: 1,
  /** The fabric or target rejected the access. */
  BusError: 2,
  /** A read returned poisoned data. */
  Poisoned: 3,
  /** Read-verify found data different from the pattern. */
  Mismatch: 4,
  /** START with a reserved OP. */
  InvalidOperation: 5,
  /** Software wrote CONTROL.ABORT. */
  SoftwareAbort: 6,
} as const;
export type ErrorCauseValue = (typeof ErrorCause)[keyof typeof ErrorCause];

export const PASID_MASK = 0xfffff;
