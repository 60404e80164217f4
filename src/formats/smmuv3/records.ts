// Records the SMMUv3 writes to memory (IHI 0070): Event queue records (7.3, 32 bytes) and PRI
// queue entries (chapter 8, 16 bytes). Layouts use absolute bit numbers of the record.

import { bits, decode, encode, type Decoded, type Encodable, type Layout } from '../bitfield.js';
import { fromDwords, toDwords } from './structures.js';

export const EVENT_RECORD_SIZE = 32;
export const PRI_ENTRY_SIZE = 16;

/** Event numbers (7.3). */
export const EventType = {
  F_UUT: 0x01,
  C_BAD_STREAMID: 0x02,
  F_STE_FETCH: 0x03,
  C_BAD_STE: 0x04,
  F_BAD_ATS_TREQ: 0x05,
  F_STREAM_DISABLED: 0x06,
  F_TRANSL_FORBIDDEN: 0x07,
  C_BAD_SUBSTREAMID: 0x08,
  F_CD_FETCH: 0x09,
  C_BAD_CD: 0x0a,
  F_WALK_EABT: 0x0b,
  F_TRANSLATION: 0x10,
  F_ADDR_SIZE: 0x11,
  F_ACCESS: 0x12,
  F_PERMISSION: 0x13,
  F_TLB_CONFLICT: 0x20,
  F_CFG_CONFLICT: 0x21,
  E_PAGE_REQUEST: 0x24,
  F_VMS_FETCH: 0x25,
} as const;
export type EventTypeName = keyof typeof EventType;
export type EventTypeValue = (typeof EventType)[EventTypeName];

const EVENT_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(EventType).map(([name, n]) => [n, name]));

export const EVENT_DESCRIPTIONS: Readonly<Record<number, string>> = {
  0x01: 'unsupported upstream transaction',
  0x02: 'StreamID out of range of the Stream table',
  0x03: 'external abort fetching an STE',
  0x04: 'STE invalid or ILLEGAL',
  0x05: 'ATS Translation Request disallowed for the stream',
  0x06: 'transaction without (or with reserved) SubstreamID on a stream that requires one',
  0x07: 'Translated transaction from a stream not allowed to bypass',
  0x08: 'SubstreamID out of range or not permitted',
  0x09: 'external abort fetching a CD',
  0x0a: 'CD invalid or ILLEGAL',
  0x0b: 'external abort fetching or updating a translation table descriptor',
  0x10: 'translation fault',
  0x11: 'address size fault',
  0x12: 'access flag fault',
  0x13: 'permission fault',
  0x20: 'TLB conflict',
  0x21: 'configuration cache conflict',
  0x24: 'speculative page request hint',
  0x25: 'external abort fetching a VMS',
};

/** The event's name ("F_TRANSLATION"), or a description of an unassigned number. */
export function eventName(type: number): string {
  const name = EVENT_NAMES[type];
  if (name !== undefined) return name;
  return type >= 0xe0 && type <= 0xef ? `IMPDEF_EVENT 0x${type.toString(16)}` : `reserved event 0x${type.toString(16).padStart(2, '0')}`;
}

/** Event record CLASS: what the faulting access was doing. */
export const EventClass = {
  /** Fetching a CD (through stage 2). */
  CD: 0,
  /** Walking the stage 1 translation table (through stage 2). */
  TT: 1,
  /** Translating the input address. */
  IN: 2,
} as const;
export const EVENT_CLASS_NAMES: readonly string[] = ['CD', 'TT', 'IN', 'reserved'];

/**
 * The union of the fields the event records define (7.3); each record type uses a subset,
 * the rest of it is RES0. InputAddr and the translation-fault fields share positions across
 * records; Reason (IMPLEMENTATION DEFINED) and STAG share bits [79:64].
 */
export const EventRecordLayout = {
  EventType: bits(0, 8),
  SSV: bits(11),
  SubstreamID: bits(12, 20),
  StreamID: bits(32, 32),
  /** Stall tag (F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION, F_WALK_EABT with Stall == 1). */
  STAG: bits(64, 16),
  /** IMPLEMENTATION DEFINED cause (F_UUT, F_STE_FETCH, F_CD_FETCH, F_WALK_EABT, F_VMS_FETCH, conflicts). */
  Reason: bits(64, 16),
  /** Granule Protection Check fault (external-abort events). */
  GPCF: bits(80),
  Stall: bits(95),
  PnU: bits(97),
  InD: bits(98),
  RnW: bits(99),
  NSIPA: bits(102),
  S2: bits(103),
  CLASS: bits(104, 2),
  /** Permission faults with CLASS == TT: 1 a descriptor read, 0 a descriptor write (HTTU) faulted at stage 2. */
  TTRnW: bits(108),
  InputAddr: bits(128, 64),
  /** Faulting IPA, bits [55:12] (translation-fault events with S2 == 1). */
  IPA: bits(204, 44),
  /** Fetch address, bits [55:3] (F_STE_FETCH, F_CD_FETCH, F_WALK_EABT, F_VMS_FETCH). */
  FetchAddr: bits(195, 53),
} as const satisfies Layout;
export type EventRecordFields = Decoded<typeof EventRecordLayout>;

/**
 * F_BAD_ATS_TREQ (0x05) carries the Translation Request's permissions and span where the
 * translation-fault records carry PnU/InD/RnW; InputAddr holds the untranslated address.
 */
export const BadAtsTreqLayout = {
  EventType: bits(0, 8),
  SSV: bits(11),
  SubstreamID: bits(12, 20),
  StreamID: bits(32, 32),
  Priv: bits(97),
  Exec: bits(98),
  Read: bits(99),
  Write: bits(100),
  /** Number of STUs requested. */
  Span: bits(104, 4),
  InputAddr: bits(128, 64),
} as const satisfies Layout;
export type BadAtsTreqFields = Decoded<typeof BadAtsTreqLayout>;

/** An event record as its four doublewords. */
export function encodeEvent(fields: Encodable<typeof EventRecordLayout>): bigint[] {
  return toDwords(encode(EventRecordLayout, fields), 4);
}

/** The fields of an event record given as its four doublewords (every field of the union layout). */
export function decodeEvent(dwords: readonly bigint[]): EventRecordFields {
  return decode(EventRecordLayout, fromDwords(dwords));
}

/** An F_BAD_ATS_TREQ record's fields. */
export function decodeBadAtsTreq(dwords: readonly bigint[]): BadAtsTreqFields {
  return decode(BadAtsTreqLayout, fromDwords(dwords));
}

/** Whether records of this type carry the translation-fault fields (Stall, STAG, S2, CLASS, IPA). */
export function isTranslationFault(type: number): boolean {
  return type === EventType.F_TRANSLATION || type === EventType.F_ADDR_SIZE || type === EventType.F_ACCESS || type === EventType.F_PERMISSION || type === EventType.F_WALK_EABT;
}

// ---- PRI queue entries (chapter 8) ----------------------------------------------------------

export const PriEntryLayout = {
  StreamID: bits(0, 32),
  SubstreamID: bits(32, 20),
  Priv: bits(58),
  Exec: bits(59),
  Read: bits(60),
  Write: bits(61),
  Last: bits(62),
  SSV: bits(63),
  PRGIndex: bits(64, 9),
  /** Page address bits [63:12]. */
  PageAddr: bits(76, 52),
} as const satisfies Layout;
export type PriEntryFields = Decoded<typeof PriEntryLayout>;

export function encodePriEntry(fields: Encodable<typeof PriEntryLayout>): bigint[] {
  return toDwords(encode(PriEntryLayout, fields), 2);
}

export function decodePriEntry(dwords: readonly bigint[]): PriEntryFields {
  return decode(PriEntryLayout, fromDwords(dwords));
}
