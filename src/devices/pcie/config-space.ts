// A PCI Express function's 4 KiB configuration space (PCI Local Bus 3.0 chapter 6, PCIe Base
// chapter 7): bytes with a per-bit writable mask and a per-bit write-1-to-clear mask, so
// that read-only fields, BAR size probing and RW1C status bits fall out of one write rule:
//   new = (old & ~writable) | (value & writable), then old &= ~(value & w1c).
// Setup helpers write through the masks (they are what the function's hardware sets).

export const CONFIG_SPACE_SIZE = 4096;

/** Type 0 configuration header offsets. */
export const PciCfg = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION_ID: 0x08,
  /** 24-bit class code: programming interface at 0x09, sub-class 0x0a, base class 0x0b. */
  CLASS_CODE: 0x09,
  CACHE_LINE_SIZE: 0x0c,
  LATENCY_TIMER: 0x0d,
  HEADER_TYPE: 0x0e,
  BIST: 0x0f,
  BAR0: 0x10,
  CARDBUS_CIS: 0x28,
  SUBSYSTEM_VENDOR_ID: 0x2c,
  SUBSYSTEM_ID: 0x2e,
  EXPANSION_ROM: 0x30,
  CAPABILITIES_POINTER: 0x34,
  INTERRUPT_LINE: 0x3c,
  INTERRUPT_PIN: 0x3d,
} as const;

export const PciCommand = {
  IO_SPACE: 1 << 0,
  MEMORY_SPACE: 1 << 1,
  BUS_MASTER: 1 << 2,
  PARITY_ERROR_RESPONSE: 1 << 6,
  SERR_ENABLE: 1 << 8,
  INTX_DISABLE: 1 << 10,
} as const;

export const PciStatus = {
  INTERRUPT: 1 << 3,
  CAPABILITIES_LIST: 1 << 4,
  MASTER_DATA_PARITY_ERROR: 1 << 8,
  SIGNALED_TARGET_ABORT: 1 << 11,
  RECEIVED_TARGET_ABORT: 1 << 12,
  RECEIVED_MASTER_ABORT: 1 << 13,
  SIGNALED_SYSTEM_ERROR: 1 << 14,
  DETECTED_PARITY_ERROR: 1 << 15,
} as const;

/** Memory BAR low bits: bit 0 = 0 (memory), bits 2:1 type, bit 3 prefetchable. */
export const PciBarBits = {
  IO: 1 << 0,
  TYPE_64: 2 << 1,
  PREFETCHABLE: 1 << 3,
  /** Bits of a memory BAR that are not address. */
  MEMORY_FLAGS: 0xf,
} as const;

export const HEADER_TYPE_MULTIFUNCTION = 0x80;

/** Capability ids (PCI) and extended capability ids (PCIe). */
export const PciCapId = {
  MSIX: 0x11,
  PCIE: 0x10,
} as const;
export const PciExtCapId = {
  ATS: 0x000f,
  PASID: 0x001b,
} as const;

export class ConfigSpace {
  readonly bytes = new Uint8Array(CONFIG_SPACE_SIZE);
  readonly writable = new Uint8Array(CONFIG_SPACE_SIZE);
  readonly w1c = new Uint8Array(CONFIG_SPACE_SIZE);
  /** Offset of the last capability in the list (0: none yet), and of the last extended one. */
  private lastCap = 0;
  private lastExtCap = 0;
  private nextCapOffset = 0x40;
  private nextExtCapOffset = 0x100;

  /** Reads `size` bytes little-endian at `offset` (the caller checks the range). */
  read(offset: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.bytes[offset + i];
    return v;
  }

  /** A configuration write, honouring the writable and W1C masks. */
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const b = (value >>> (8 * i)) & 0xff;
      const w = this.writable[o];
      let old = (this.bytes[o] & ~w) | (b & w);
      old &= ~(b & this.w1c[o]);
      this.bytes[o] = old;
    }
  }

  // ---- setup (the function's own view: no masks) --------------------------------------------

  set(offset: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  /** Marks bits writable by software. */
  setWritable(offset: number, size: 1 | 2 | 4, mask: number): void {
    for (let i = 0; i < size; i++) this.writable[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** Marks bits write-1-to-clear. */
  setW1c(offset: number, size: 1 | 2 | 4, mask: number): void {
    for (let i = 0; i < size; i++) this.w1c[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** ORs bits in (status bits the function sets). */
  setBits(offset: number, size: 1 | 2 | 4, bits: number): void {
    this.set(offset, size, (this.read(offset, size) | bits) >>> 0);
  }

  clearBits(offset: number, size: 1 | 2 | 4, bits: number): void {
    this.set(offset, size, (this.read(offset, size) & ~bits) >>> 0);
  }

  /**
   * Appends a capability of `length` bytes to the list at 0x34 (in the first 256 bytes);
   * returns its offset. Sets Status.Capabilities List.
   */
  addCapability(id: number, length: number): number {
    const offset = this.nextCapOffset;
    if (offset + length > 0x100) throw new RangeError(`capability 0x${id.toString(16)} does not fit in the first 256 bytes`);
    this.set(offset, 1, id);
    this.set(offset + 1, 1, 0);
    if (this.lastCap === 0) this.set(PciCfg.CAPABILITIES_POINTER, 1, offset);
    else this.set(this.lastCap + 1, 1, offset);
    this.lastCap = offset;
    this.nextCapOffset = (offset + length + 3) & ~3;
    this.setBits(PciCfg.STATUS, 2, PciStatus.CAPABILITIES_LIST);
    return offset;
  }

  /** Appends an extended capability (list starting at 0x100); returns its offset. */
  addExtendedCapability(id: number, version: number, length: number): number {
    const offset = this.nextExtCapOffset;
    if (offset + length > CONFIG_SPACE_SIZE) throw new RangeError(`extended capability 0x${id.toString(16)} does not fit`);
    this.set(offset, 4, (id & 0xffff) | ((version & 0xf) << 16));
    if (this.lastExtCap !== 0) {
      const header = this.read(this.lastExtCap, 4);
      this.set(this.lastExtCap, 4, ((header & 0xfffff) | (offset << 20)) >>> 0);
    }
    this.lastExtCap = offset;
    this.nextExtCapOffset = (offset + length + 3) & ~3;
    return offset;
  }

  /** Offset of capability `id` in the list, or 0. */
  findCapability(id: number): number {
    let p = this.bytes[PciCfg.CAPABILITIES_POINTER] & 0xfc;
    for (let guard = 0; p !== 0 && guard < 48; guard++) {
      if (this.bytes[p] === id) return p;
      p = this.bytes[p + 1] & 0xfc;
    }
    return 0;
  }

  /** Offset of extended capability `id`, or 0. */
  findExtendedCapability(id: number): number {
    let p = 0x100;
    for (let guard = 0; p !== 0 && guard < 960; guard++) {
      const header = this.read(p, 4);
      if (header === 0) return 0;
      if ((header & 0xffff) === id) return p;
      p = (header >>> 20) & 0xffc;
    }
    return 0;
  }
}
