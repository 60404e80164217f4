// Records the IOMMU writes to memory: fault/event records (32 bytes) and page-request
// records (16 bytes), with the cause, transaction-type and PCIe message encodings.

import { bits, type Layout } from '../bitfield.js';

export const FAULT_RECORD_SIZE = 32;
export const PAGE_REQUEST_RECORD_SIZE = 16;

/** First doubleword of a fault record; then reserved/custom, iotval, iotval2. */
export const FaultRecordWord0 = {
  CAUSE: bits(0, 12),
  PID: bits(12, 20),
  PV: bits(32),
  PRIV: bits(33),
  TTYP: bits(34, 6),
  DID: bits(40, 24),
} as const satisfies Layout;

/** Fault-record CAUSE encodings (specification table "Fault record CAUSE field encodings"). */
export const Cause = {
  InstructionAccessFault: 1,
  ReadAddressMisaligned: 4,
  ReadAccessFault: 5,
  WriteAddressMisaligned: 6,
  WriteAccessFault: 7,
  InstructionPageFault: 12,
  ReadPageFault: 13,
  WritePageFault: 15,
  InstructionGuestPageFault: 20,
  ReadGuestPageFault: 21,
  WriteGuestPageFault: 23,
  AllInboundDisallowed: 256,
  DdtLoadAccessFault: 257,
  DdtEntryNotValid: 258,
  DdtEntryMisconfigured: 259,
  TransactionTypeDisallowed: 260,
  MsiPteLoadAccessFault: 261,
  MsiPteNotValid: 262,
  MsiPteMisconfigured: 263,
  MrifAccessFault: 264,
  PdtLoadAccessFault: 265,
  PdtEntryNotValid: 266,
  PdtEntryMisconfigured: 267,
  DdtDataCorruption: 268,
  PdtDataCorruption: 269,
  MsiPtDataCorruption: 270,
  MsiMrifDataCorruption: 271,
  InternalDatapathError: 272,
  MsiWriteAccessFault: 273,
  PtDataCorruption: 274,
} as const;
export type CauseValue = (typeof Cause)[keyof typeof Cause];

export const CAUSE_DESCRIPTIONS: Readonly<Record<number, string>> = {
  1: 'Instruction access fault',
  4: 'Read address misaligned',
  5: 'Read access fault',
  6: 'Write/AMO address misaligned',
  7: 'Write/AMO access fault',
  12: 'Instruction page fault',
  13: 'Read page fault',
  15: 'Write/AMO page fault',
  20: 'Instruction guest page fault',
  21: 'Read guest-page fault',
  23: 'Write/AMO guest-page fault',
  256: 'All inbound transactions disallowed',
  257: 'DDT entry load access fault',
  258: 'DDT entry not valid',
  259: 'DDT entry misconfigured',
  260: 'Transaction type disallowed',
  261: 'MSI PTE load access fault',
  262: 'MSI PTE not valid',
  263: 'MSI PTE misconfigured',
  264: 'MRIF access fault',
  265: 'PDT entry load access fault',
  266: 'PDT entry not valid',
  267: 'PDT entry misconfigured',
  268: 'DDT data corruption',
  269: 'PDT data corruption',
  270: 'MSI PT data corruption',
  271: 'MSI MRIF data corruption',
  272: 'Internal data path error',
  273: 'IOMMU MSI write access fault',
  274: 'First/second-stage PT data corruption',
};

/** Causes still reported when DC.tc.DTF is 1 (the "Reported if DTF is 1?" column). */
export const CAUSES_REPORTED_DESPITE_DTF: ReadonlySet<number> = new Set([256, 257, 258, 259, 268, 272, 273]);

export function describeCause(cause: number): string {
  return CAUSE_DESCRIPTIONS[cause] ?? (cause >= 2048 ? `custom cause ${cause}` : `reserved cause ${cause}`);
}

/** Fault-record TTYP encodings. */
export const Ttyp = {
  None: 0,
  UntranslatedExecute: 1,
  UntranslatedRead: 2,
  UntranslatedWrite: 3,
  TranslatedExecute: 5,
  TranslatedRead: 6,
  TranslatedWrite: 7,
  AtsTranslationRequest: 8,
  PcieMessage: 9,
} as const;

export const TTYP_DESCRIPTIONS: Readonly<Record<number, string>> = {
  0: 'none',
  1: 'untranslated read for execute',
  2: 'untranslated read',
  3: 'untranslated write/AMO',
  5: 'translated read for execute',
  6: 'translated read',
  7: 'translated write/AMO',
  8: 'PCIe ATS translation request',
  9: 'PCIe message request',
};

/** First doubleword of a page-request record; the second is the message payload. */
export const PageRequestRecordWord0 = {
  PID: bits(12, 20),
  PV: bits(32),
  PRIV: bits(33),
  EXEC: bits(34),
  DID: bits(40, 24),
} as const satisfies Layout;

/** Payload of a PCIe "Page Request" message (bytes 8..15). */
export const PageRequestPayloadLayout = {
  R: bits(0),
  W: bits(1),
  L: bits(2),
  PRGI: bits(3, 9),
  ADDR_63_12: bits(12, 52),
} as const satisfies Layout;

/** PCIe message codes used by ATS and PRI. */
export const MessageCode = {
  InvalidationRequest: 0x01,
  InvalidationCompletion: 0x02,
  PageRequest: 0x04,
  PrgResponse: 0x05,
} as const;

/** Page Request Group Response codes. */
export const PrgResponseCode = {
  Success: 0x0,
  InvalidRequest: 0x1,
  ResponseFailure: 0xf,
} as const;

/** Payload of a PCIe Invalidation Completion message: ITAG vector and completion count. */
export const InvalidationCompletionPayloadLayout = {
  ITAGV: bits(0, 32),
  CC: bits(32, 3),
  RequesterId: bits(48, 16),
} as const satisfies Layout;

/** Standard HPM events (specification table "Standard Events list"). */
export const HpmEvent = {
  None: 0,
  UntranslatedRequests: 1,
  TranslatedRequests: 2,
  AtsTranslationRequests: 3,
  TlbMiss: 4,
  DdtWalks: 5,
  PdtWalks: 6,
  FirstStageWalks: 7,
  SecondStageWalks: 8,
} as const;

/** Whether an event counts with IDT=1 (GSCID/PSCID filters); every event supports IDT=0. */
export const HPM_EVENT_SUPPORTS_IDT1: readonly boolean[] = [false, false, false, false, true, false, false, true, true];
export const HPM_EVENT_NAMES: readonly string[] = [
  'none',
  'untranslated requests',
  'translated requests',
  'ATS translation requests',
  'TLB miss',
  'device directory walks',
  'process directory walks',
  'first-stage page table walks',
  'second-stage page table walks',
];
