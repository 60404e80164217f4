// SMMUv3 Event queue records (IHI 0070 7.3) and PRI queue entries (chapter 8).
import { describe, expect, it } from 'vitest';
import {
  decodeEvent,
  decodePriEntry,
  encodeEvent,
  encodePriEntry,
  EVENT_CLASS_NAMES,
  EVENT_DESCRIPTIONS,
  EventClass,
  eventName,
  EventRecordLayout,
  EventType,
  isTranslationFault,
} from '../../../src/formats/smmuv3/records.js';

describe('7.3 event numbers', () => {
  it('assigns the architected numbers', () => {
    expect(EventType).toMatchObject({
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
    });
    for (const n of Object.values(EventType)) expect(EVENT_DESCRIPTIONS[n]).toBeTypeOf('string');
  });

  it('names events, IMPDEF events and reserved numbers', () => {
    expect(eventName(0x10)).toBe('F_TRANSLATION');
    expect(eventName(0xe3)).toBe('IMPDEF_EVENT 0xe3');
    expect(eventName(0x0c)).toBe('reserved event 0x0c');
  });

  it('knows which records carry the translation-fault fields', () => {
    expect([0x0b, 0x10, 0x11, 0x12, 0x13].every(isTranslationFault)).toBe(true);
    expect(isTranslationFault(EventType.C_BAD_STE)).toBe(false);
  });
});

describe('7.3 record fields', () => {
  it('common fields: EventType[7:0], SSV[11], SubstreamID[31:12], StreamID[63:32]', () => {
    const [w0] = encodeEvent({ EventType: EventType.C_BAD_CD, SSV: 1, SubstreamID: 0xabcde, StreamID: 0x1234 });
    expect(w0).toBe((0x1234n << 32n) | (0xabcden << 12n) | (1n << 11n) | 0x0an);
  });

  it('translation faults: STAG[79:64], Stall[95], PnU[97], InD[98], RnW[99], S2[103], CLASS[105:104], InputAddr, IPA[247:204]', () => {
    const d = encodeEvent({ EventType: EventType.F_PERMISSION, STAG: 0x55, Stall: 1, PnU: 1, InD: 1, RnW: 1, S2: 1, CLASS: EventClass.TT, TTRnW: 1, InputAddr: 0xffff_0000_1234_5678n, IPA: 0x8000_1000n >> 12n });
    expect(d[1]).toBe(0x55n | (1n << 31n) | (1n << 33n) | (1n << 34n) | (1n << 35n) | (1n << 39n) | (1n << 40n) | (1n << 44n));
    expect(d[2]).toBe(0xffff_0000_1234_5678n);
    expect(d[3]).toBe(0x8000_1000n);
  });

  it('fetch aborts: FetchAddr[247:195] holds address bits [55:3]', () => {
    expect(encodeEvent({ FetchAddr: 0x1234_5678n >> 3n })[3]).toBe(0x1234_5678n);
    expect(EventRecordLayout.FetchAddr.lsb).toBe(195);
  });

  it('decodes what it encodes', () => {
    const f = decodeEvent(encodeEvent({ EventType: 0x10, StreamID: 7, InputAddr: 0x1000n, S2: 1, CLASS: EventClass.IN }));
    expect([f.EventType, f.StreamID, f.InputAddr, f.S2, f.CLASS]).toEqual([0x10n, 7n, 0x1000n, 1n, 2n]);
    expect(EVENT_CLASS_NAMES[Number(f.CLASS)]).toBe('IN');
  });
});

describe('8 PRI queue entries', () => {
  it('StreamID[31:0], SubstreamID[51:32], Priv[58], Exec[59], Read[60], Write[61], Last[62], SSV[63], PRGIndex[72:64], Page address[127:76]', () => {
    const [w0, w1] = encodePriEntry({ StreamID: 0x0108, SubstreamID: 0x12345, Priv: 1, Exec: 1, Read: 1, Write: 1, Last: 1, SSV: 1, PRGIndex: 0x1a5, PageAddr: 0x7fff_f000n >> 12n });
    expect(w0).toBe(0x108n | (0x12345n << 32n) | (0x3fn << 58n));
    expect(w1).toBe(0x1a5n | 0x7fff_f000n);
    expect(decodePriEntry([w0, w1]).PRGIndex).toBe(0x1a5n);
  });
});
