// PROBE properties (VIRTIO 1.2/1.3 sections 5.13.6.7 "PROBE request" and 5.13.6.8 "PROBE
// properties"): a list of { le16 type:12 + reserved:4, le16 length, value[length] } in the
// properties buffer of probe_size bytes, the next property (length + 4) bytes after the
// start of the previous one, the list ending at a property of type NONE (0) or at the end
// of the buffer. The only property the specification defines is RESV_MEM.

/** Property types (12 bits). */
export const ProbePropertyType = {
  None: 0,
  ResvMem: 1,
} as const;

export const PROBE_PROPERTY_TYPE_MASK = 0xfff;
export const PROBE_PROPERTY_HEADER_SIZE = 4;

/** RESV_MEM subtypes (5.13.6.8.1). */
export const ResvMemSubtype = {
  /** Addresses the driver cannot map (the platform's own DMA mappings, for example). */
  Reserved: 0,
  /** An MSI doorbell: not mappable, and DMA to it reaches the MSI controller untranslated. */
  Msi: 1,
} as const;

/** struct virtio_iommu_probe_resv_mem after the header: u8 subtype, u8 reserved[3], le64 start, le64 end. */
export const RESV_MEM_LENGTH = 20;
export const RESV_MEM_PROPERTY_SIZE = PROBE_PROPERTY_HEADER_SIZE + RESV_MEM_LENGTH;
export const ResvMemLayout = { subtype: 4, reserved: 5, start: 8, end: 16 } as const;

export interface ResvMemProperty {
  type: 1;
  subtype: number;
  /** Inclusive range of reserved IOVAs. */
  start: bigint;
  end: bigint;
}

/** A property the decoder does not interpret, or a RESV_MEM too short to hold its fields. */
export interface RawProperty {
  type: number;
  value: Uint8Array;
}

export interface DecodedProperty {
  property: ResvMemProperty | RawProperty;
  /** Byte offset of the property in the buffer. */
  offset: number;
  /** The 4 reserved bits of the header (a driver ignores the property when they are not zero). */
  reserved: number;
}

/** Bytes `properties` take in a probe buffer. */
export function propertiesSize(properties: readonly ResvMemProperty[]): number {
  return properties.length * RESV_MEM_PROPERTY_SIZE;
}

/**
 * Writes `properties` at the start of `into` and zero-fills the rest (which reads as a NONE
 * property terminating the list). Returns false, writing nothing, when they do not fit.
 */
export function encodeProperties(properties: readonly ResvMemProperty[], into: Uint8Array): boolean {
  if (propertiesSize(properties) > into.length) return false;
  into.fill(0);
  const view = new DataView(into.buffer, into.byteOffset, into.byteLength);
  let at = 0;
  for (const p of properties) {
    view.setUint16(at, ProbePropertyType.ResvMem, true);
    view.setUint16(at + 2, RESV_MEM_LENGTH, true);
    view.setUint8(at + ResvMemLayout.subtype, p.subtype);
    view.setBigUint64(at + ResvMemLayout.start, p.start, true);
    view.setBigUint64(at + ResvMemLayout.end, p.end, true);
    at += RESV_MEM_PROPERTY_SIZE;
  }
  return true;
}

/**
 * Parses a properties buffer the way a driver does (5.13.6.7): property after property,
 * stopping at a NONE property, at the end of the buffer, or at a header whose value would
 * run past the end (which is then not returned).
 */
export function decodeProperties(bytes: Uint8Array): DecodedProperty[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: DecodedProperty[] = [];
  let at = 0;
  while (at + PROBE_PROPERTY_HEADER_SIZE <= bytes.length) {
    const word = view.getUint16(at, true);
    const type = word & PROBE_PROPERTY_TYPE_MASK;
    if (type === ProbePropertyType.None) break;
    const length = view.getUint16(at + 2, true);
    const end = at + PROBE_PROPERTY_HEADER_SIZE + length;
    if (end > bytes.length) break;
    const reserved = word >> 12;
    if (type === ProbePropertyType.ResvMem && length >= RESV_MEM_LENGTH) {
      const property: ResvMemProperty = {
        type: 1,
        subtype: view.getUint8(at + ResvMemLayout.subtype),
        start: view.getBigUint64(at + ResvMemLayout.start, true),
        end: view.getBigUint64(at + ResvMemLayout.end, true),
      };
      out.push({ property, offset: at, reserved });
    } else {
      out.push({ property: { type, value: bytes.slice(at + PROBE_PROPERTY_HEADER_SIZE, end) }, offset: at, reserved });
    }
    at = end;
  }
  return out;
}
