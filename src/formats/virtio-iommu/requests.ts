// Requests on the request queue of the IOMMU device (VIRTIO 1.2/1.3 section 5.13.6 "Device
// operations" and 5.13.6.3-5.13.6.7): a device-readable part (a head, then the fields of the
// request type) followed by a device-writable part (for PROBE the properties buffer, then a
// tail carrying the status). All fields are little-endian.

/** Request types (5.13.6). */
export const VirtioIommuRequestType = {
  Attach: 1,
  Detach: 2,
  Map: 3,
  Unmap: 4,
  Probe: 5,
} as const;
export type VirtioIommuRequestTypeValue = (typeof VirtioIommuRequestType)[keyof typeof VirtioIommuRequestType];

export const VIRTIO_IOMMU_REQUEST_NAMES: Readonly<Record<number, string>> = {
  1: 'ATTACH',
  2: 'DETACH',
  3: 'MAP',
  4: 'UNMAP',
  5: 'PROBE',
};

/** Request status codes written in the tail (5.13.6). */
export const VirtioIommuStatus = {
  Ok: 0,
  /** Virtio communication error. */
  IoErr: 1,
  /** Unsupported request. */
  Unsupp: 2,
  /** Internal device error. */
  DevErr: 3,
  /** Invalid parameters. */
  Inval: 4,
  /** Out-of-range parameters. */
  Range: 5,
  /** Entry not found. */
  NoEnt: 6,
  /** Bad address. */
  Fault: 7,
  /** Insufficient resources. */
  NoMem: 8,
} as const;
export type VirtioIommuStatusValue = (typeof VirtioIommuStatus)[keyof typeof VirtioIommuStatus];

export const VIRTIO_IOMMU_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'OK',
  1: 'IOERR',
  2: 'UNSUPP',
  3: 'DEVERR',
  4: 'INVAL',
  5: 'RANGE',
  6: 'NOENT',
  7: 'FAULT',
  8: 'NOMEM',
};

/** ATTACH flags (5.13.6.3). */
export const AttachFlag = {
  /** Create (or join) a bypass domain: its endpoints are in bypass mode. Needs BYPASS_CONFIG. */
  Bypass: 1 << 0,
} as const;

/** MAP flags (5.13.6.5). */
export const MapFlag = {
  Read: 1 << 0,
  Write: 1 << 1,
  /** A memory type, not a protection: the range is device registers. Needs the MMIO feature. */
  Mmio: 1 << 2,
} as const;

/** Byte offsets of the fields of each request's device-readable part, and its length. */
export const RequestLayout = {
  head: { type: 0, reserved: 1, length: 4 },
  attach: { domain: 4, endpoint: 8, flags: 12, reserved: 16, length: 20 },
  detach: { domain: 4, endpoint: 8, reserved: 12, length: 20 },
  map: { domain: 4, virtStart: 8, virtEnd: 16, physStart: 24, flags: 32, length: 36 },
  unmap: { domain: 4, virtStart: 8, virtEnd: 16, reserved: 24, length: 28 },
  probe: { endpoint: 4, reserved: 8, reservedLength: 64, length: 72 },
} as const;

/** struct virtio_iommu_req_tail: u8 status, u8 reserved[3]. */
export const REQUEST_TAIL_SIZE = 4;

/** Length of the device-readable part of a request of `type`, or undefined for an unknown type. */
export function requestLength(type: number): number | undefined {
  switch (type) {
    case VirtioIommuRequestType.Attach:
      return RequestLayout.attach.length;
    case VirtioIommuRequestType.Detach:
      return RequestLayout.detach.length;
    case VirtioIommuRequestType.Map:
      return RequestLayout.map.length;
    case VirtioIommuRequestType.Unmap:
      return RequestLayout.unmap.length;
    case VirtioIommuRequestType.Probe:
      return RequestLayout.probe.length;
    default:
      return undefined;
  }
}

export interface AttachRequest {
  type: 1;
  domain: number;
  endpoint: number;
  flags: number;
}

export interface DetachRequest {
  type: 2;
  domain: number;
  endpoint: number;
}

export interface MapRequest {
  type: 3;
  domain: number;
  /** Inclusive IOVA range. */
  virtStart: bigint;
  virtEnd: bigint;
  physStart: bigint;
  flags: number;
}

export interface UnmapRequest {
  type: 4;
  domain: number;
  /** Inclusive IOVA range. */
  virtStart: bigint;
  virtEnd: bigint;
}

export interface ProbeRequest {
  type: 5;
  endpoint: number;
}

export type VirtioIommuRequest = AttachRequest | DetachRequest | MapRequest | UnmapRequest | ProbeRequest;

/** The device-readable part of `request`, with every reserved byte zero (the driver's side). */
export function encodeRequest(request: VirtioIommuRequest): Uint8Array {
  const length = requestLength(request.type) ?? RequestLayout.head.length;
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint8(RequestLayout.head.type, request.type);
  switch (request.type) {
    case VirtioIommuRequestType.Attach: {
      const l = RequestLayout.attach;
      view.setUint32(l.domain, request.domain, true);
      view.setUint32(l.endpoint, request.endpoint, true);
      view.setUint32(l.flags, request.flags, true);
      break;
    }
    case VirtioIommuRequestType.Detach: {
      const l = RequestLayout.detach;
      view.setUint32(l.domain, request.domain, true);
      view.setUint32(l.endpoint, request.endpoint, true);
      break;
    }
    case VirtioIommuRequestType.Map: {
      const l = RequestLayout.map;
      view.setUint32(l.domain, request.domain, true);
      view.setBigUint64(l.virtStart, request.virtStart, true);
      view.setBigUint64(l.virtEnd, request.virtEnd, true);
      view.setBigUint64(l.physStart, request.physStart, true);
      view.setUint32(l.flags, request.flags, true);
      break;
    }
    case VirtioIommuRequestType.Unmap: {
      const l = RequestLayout.unmap;
      view.setUint32(l.domain, request.domain, true);
      view.setBigUint64(l.virtStart, request.virtStart, true);
      view.setBigUint64(l.virtEnd, request.virtEnd, true);
      break;
    }
    case VirtioIommuRequestType.Probe:
      view.setUint32(RequestLayout.probe.endpoint, request.endpoint, true);
      break;
  }
  return bytes;
}

export type DecodedRequest =
  | {
      ok: true;
      request: VirtioIommuRequest;
      /** Whether the request's own reserved field (not the head's) is all zero. */
      reservedZero: boolean;
    }
  | { ok: false; reason: 'no-head' }
  | { ok: false; reason: 'unknown-type'; type: number }
  | { ok: false; reason: 'short'; type: VirtioIommuRequestTypeValue; length: number };

/** Parses the device-readable part of a request (the device's side, also used by tools). */
export function decodeRequest(bytes: Uint8Array): DecodedRequest {
  if (bytes.length < RequestLayout.head.length) return { ok: false, reason: 'no-head' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint8(RequestLayout.head.type);
  const length = requestLength(type);
  if (length === undefined) return { ok: false, reason: 'unknown-type', type };
  const known = type as VirtioIommuRequestTypeValue;
  if (bytes.length < length) return { ok: false, reason: 'short', type: known, length: bytes.length };
  const zero = (offset: number, count: number) => bytes.subarray(offset, offset + count).every((b) => b === 0);
  switch (known) {
    case VirtioIommuRequestType.Attach: {
      const l = RequestLayout.attach;
      const request: AttachRequest = { type: 1, domain: view.getUint32(l.domain, true), endpoint: view.getUint32(l.endpoint, true), flags: view.getUint32(l.flags, true) };
      return { ok: true, request, reservedZero: zero(l.reserved, 4) };
    }
    case VirtioIommuRequestType.Detach: {
      const l = RequestLayout.detach;
      const request: DetachRequest = { type: 2, domain: view.getUint32(l.domain, true), endpoint: view.getUint32(l.endpoint, true) };
      return { ok: true, request, reservedZero: zero(l.reserved, 8) };
    }
    case VirtioIommuRequestType.Map: {
      const l = RequestLayout.map;
      const request: MapRequest = {
        type: 3,
        domain: view.getUint32(l.domain, true),
        virtStart: view.getBigUint64(l.virtStart, true),
        virtEnd: view.getBigUint64(l.virtEnd, true),
        physStart: view.getBigUint64(l.physStart, true),
        flags: view.getUint32(l.flags, true),
      };
      return { ok: true, request, reservedZero: true };
    }
    case VirtioIommuRequestType.Unmap: {
      const l = RequestLayout.unmap;
      const request: UnmapRequest = {
        type: 4,
        domain: view.getUint32(l.domain, true),
        virtStart: view.getBigUint64(l.virtStart, true),
        virtEnd: view.getBigUint64(l.virtEnd, true),
      };
      return { ok: true, request, reservedZero: zero(l.reserved, 4) };
    }
    case VirtioIommuRequestType.Probe: {
      const l = RequestLayout.probe;
      return { ok: true, request: { type: 5, endpoint: view.getUint32(l.endpoint, true) }, reservedZero: zero(l.reserved, l.reservedLength) };
    }
  }
}

/** A request tail carrying `status`, reserved bytes zero (the device's side). */
export function encodeTail(status: number): Uint8Array {
  const bytes = new Uint8Array(REQUEST_TAIL_SIZE);
  bytes[0] = status;
  return bytes;
}

/** The status of the tail at `offset` (the driver ignores the tail's reserved bytes). */
export function decodeTail(bytes: Uint8Array, offset = 0): number {
  return bytes[offset];
}

/** Length of the device-writable part of a request of `type` for a device with `probeSize`. */
export function writableLength(type: VirtioIommuRequestTypeValue, probeSize: number): number {
  return type === VirtioIommuRequestType.Probe ? probeSize + REQUEST_TAIL_SIZE : REQUEST_TAIL_SIZE;
}
