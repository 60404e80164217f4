// Fault reports on the event queue (VIRTIO 1.2/1.3 section 5.13.6.9 "Fault reporting"):
//   u8 reason, u8 reserved[3], le32 flags, le32 endpoint, le32 reserved1, le64 address.

export const FAULT_EVENT_SIZE = 24;
export const FaultEventLayout = { reason: 0, reserved: 1, flags: 4, endpoint: 8, reserved1: 12, address: 16 } as const;

export const FaultReason = {
  /** An internal error, or one no other reason describes. */
  Unknown: 0,
  /** The endpoint accessed `address` without being attached to a domain. */
  Domain: 1,
  /** `address` is not mapped in the domain, or not with the access's permission. */
  Mapping: 2,
} as const;

export const FAULT_REASON_NAMES: Readonly<Record<number, string>> = {
  0: 'UNKNOWN',
  1: 'DOMAIN',
  2: 'MAPPING',
};

export const FaultFlag = {
  Read: 1 << 0,
  Write: 1 << 1,
  /** Defined by Linux include/uapi/linux/virtio_iommu.h; the specification text lists only READ, WRITE and ADDRESS. */
  Exec: 1 << 2,
  /** `address` holds the faulting address. */
  Address: 1 << 8,
} as const;

export interface FaultEvent {
  reason: number;
  flags: number;
  endpoint: number;
  /** Meaningful when flags has ADDRESS. */
  address: bigint;
}

export interface DecodedFaultEvent extends FaultEvent {
  /** Whether `reserved` is zero: a driver ignores a report whose `reserved` is not. */
  reservedZero: boolean;
}

/** Writes `event` into `into[at..at+24)` with the reserved fields zero. */
export function encodeFaultEvent(event: FaultEvent, into: Uint8Array = new Uint8Array(FAULT_EVENT_SIZE), at = 0): Uint8Array {
  const view = new DataView(into.buffer, into.byteOffset + at, FAULT_EVENT_SIZE);
  const l = FaultEventLayout;
  view.setUint32(0, event.reason & 0xff, true);
  view.setUint32(l.flags, event.flags, true);
  view.setUint32(l.endpoint, event.endpoint, true);
  view.setUint32(l.reserved1, 0, true);
  view.setBigUint64(l.address, event.address, true);
  return into;
}

/** Parses a fault report (at least FAULT_EVENT_SIZE bytes). */
export function decodeFaultEvent(bytes: Uint8Array, at = 0): DecodedFaultEvent {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, FAULT_EVENT_SIZE);
  const l = FaultEventLayout;
  return {
    reason: view.getUint8(l.reason),
    flags: view.getUint32(l.flags, true),
    endpoint: view.getUint32(l.endpoint, true),
    address: view.getBigUint64(l.address, true),
    reservedZero: view.getUint8(1) === 0 && view.getUint8(2) === 0 && view.getUint8(3) === 0,
  };
}
