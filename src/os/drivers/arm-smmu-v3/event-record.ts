// Event records (IHI 0070 7.3), decoded field by field into something a person can read: the
// event by name, the stream and substream, the access, the faulting address, and for
// translation faults the stage and class; F_BAD_ATS_TREQ carries the Translation Request's
// permissions instead (7.3.6).

import { decodeBadAtsTreq, decodeEvent, EVENT_CLASS_NAMES, EVENT_DESCRIPTIONS, EventType, eventName, isTranslationFault } from '../../../formats/smmuv3/records.js';
import { hex } from '../../../sim/u64.js';

export interface SmmuEvent {
  type: number;
  /** "F_TRANSLATION", or a description of a reserved or IMPLEMENTATION DEFINED number. */
  name: string;
  /** Whether the architecture defines this event number (7.3). */
  known: boolean;
  sid: number;
  /** SubstreamID, when the transaction had one (SSV). */
  ssid: number | null;
  read: boolean;
  write: boolean;
  exec: boolean;
  privileged: boolean;
  /** Translation faults: the fault was at stage 2, the access class (CD, TT, IN), and a stall. */
  s2: boolean;
  className: string;
  stall: boolean;
  stag: number;
  /** The input address (IOVA) of the transaction. */
  inputAddress: bigint;
  /** Stage-2 faults: the faulting IPA; fetch faults: the address fetched. */
  ipa: bigint;
  fetchAddress: bigint;
  /** The four doublewords as read. */
  raw: readonly bigint[];
}

const KNOWN = new Set<number>(Object.values(EventType));
const FETCH_EVENTS = new Set<number>([EventType.F_STE_FETCH, EventType.F_CD_FETCH, EventType.F_WALK_EABT, EventType.F_VMS_FETCH]);

export function decodeEventRecord(raw: readonly bigint[]): SmmuEvent {
  const e = decodeEvent(raw);
  const type = Number(e.EventType);
  const ssid = e.SSV === 1n ? Number(e.SubstreamID) : null;
  const translation = isTranslationFault(type);
  const base = {
    type,
    name: eventName(type),
    known: KNOWN.has(type),
    sid: Number(e.StreamID),
    ssid,
    s2: translation && e.S2 === 1n,
    className: translation ? EVENT_CLASS_NAMES[Number(e.CLASS)] : '',
    stall: translation && e.Stall === 1n,
    stag: translation && e.Stall === 1n ? Number(e.STAG) : 0,
    inputAddress: e.InputAddr,
    ipa: translation && e.S2 === 1n ? e.IPA << 12n : 0n,
    fetchAddress: FETCH_EVENTS.has(type) ? e.FetchAddr << 3n : 0n,
    raw,
  };
  if (type === EventType.F_BAD_ATS_TREQ) {
    const t = decodeBadAtsTreq(raw);
    return { ...base, read: t.Read === 1n, write: t.Write === 1n, exec: t.Exec === 1n, privileged: t.Priv === 1n };
  }
  const write = e.RnW === 0n;
  return { ...base, read: !write, write, exec: e.InD === 1n, privileged: e.PnU === 1n };
}

/** "F_TRANSLATION (translation fault), StreamID 0x10 (dma), read, iova 0x1000, stage 1 IN" */
export function formatEvent(e: SmmuEvent, deviceName?: string): string {
  const who = `StreamID ${hex(e.sid)}${deviceName !== undefined ? ` (${deviceName})` : ' (unassigned)'}${e.ssid !== null ? ` SubstreamID ${hex(e.ssid)}` : ''}`;
  const what = EVENT_DESCRIPTIONS[e.type];
  const access = `${e.privileged ? 'privileged' : 'unprivileged'} ${e.exec ? 'instruction' : 'data'} ${e.write ? 'write' : 'read'}`;
  const detail = isTranslationFault(e.type)
    ? `, ${e.s2 ? 'stage 2' : 'stage 1'} ${e.className}${e.s2 ? `, ipa ${hex(e.ipa)}` : ''}${e.stall ? `, stalled (STAG ${hex(e.stag)})` : ''}`
    : FETCH_EVENTS.has(e.type)
      ? `, fetch address ${hex(e.fetchAddress)}`
      : '';
  return `${e.name}${what !== undefined ? ` (${what})` : ''}, ${who}, ${access}, iova ${hex(e.inputAddress)}${detail}`;
}
