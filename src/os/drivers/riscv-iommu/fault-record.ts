// Fault/event records (specification "Fault/Event-Queue (FQ)"), decoded field by field into
// something a person can read: the cause and transaction type by name, the device, the
// process id when there is one, and the two cause-specific values.

import { decode } from '../../../formats/bitfield.js';
import { describeCause, FaultRecordWord0, Ttyp, TTYP_DESCRIPTIONS } from '../../../formats/riscv-iommu/records.js';
import { hex } from '../../../sim/u64.js';

export interface FaultRecord {
  cause: number;
  /** The cause's name from the specification's table ("Read page fault"). */
  causeName: string;
  /** Transaction type (Ttyp) and its name. */
  ttyp: number;
  ttypName: string;
  /** device_id of the requester. */
  deviceId: number;
  /** Whether the transaction carried a process_id, and its value and privilege. */
  pv: boolean;
  pid: number;
  priv: boolean;
  /** Cause-specific: the faulting IOVA for translation faults. */
  iotval: bigint;
  /** Cause-specific: the guest-physical address for guest-page faults. */
  iotval2: bigint;
  /** The four doublewords as read. */
  raw: readonly [bigint, bigint, bigint, bigint];
}

export function decodeFaultRecord(raw: readonly [bigint, bigint, bigint, bigint]): FaultRecord {
  const h = decode(FaultRecordWord0, raw[0]);
  const cause = Number(h.CAUSE);
  const ttyp = Number(h.TTYP);
  const pv = h.PV === 1n;
  return {
    cause,
    causeName: describeCause(cause),
    ttyp,
    ttypName: TTYP_DESCRIPTIONS[ttyp] ?? (ttyp >= 32 ? `custom transaction type ${ttyp}` : `reserved transaction type ${ttyp}`),
    deviceId: Number(h.DID),
    pv,
    pid: Number(h.PID),
    priv: h.PRIV === 1n,
    iotval: raw[2],
    iotval2: raw[3],
    raw,
  };
}

/** Access kinds of the faulting transaction, from its type. */
export function accessOf(ttyp: number): { read: boolean; write: boolean; exec: boolean } {
  const exec = ttyp === Ttyp.UntranslatedExecute || ttyp === Ttyp.TranslatedExecute;
  const write = ttyp === Ttyp.UntranslatedWrite || ttyp === Ttyp.TranslatedWrite;
  const read = ttyp === Ttyp.UntranslatedRead || ttyp === Ttyp.TranslatedRead || ttyp === Ttyp.AtsTranslationRequest;
  return { read, write, exec };
}

/** "cause 13 (Read page fault), untranslated read (TTYP 2), device 0x5 (dma), iotval ..., iotval2 ..." */
export function formatFaultRecord(r: FaultRecord, deviceName?: string): string {
  const who = `device ${hex(r.deviceId)}${deviceName !== undefined ? ` (${deviceName})` : ''}`;
  const pasid = r.pv ? `, process_id ${hex(r.pid)}${r.priv ? ' privileged' : ''}` : '';
  return `cause ${r.cause} (${r.causeName}), ${r.ttypName} (TTYP ${r.ttyp}), ${who}${pasid}, iotval ${hex(r.iotval)}, iotval2 ${hex(r.iotval2)}`;
}
