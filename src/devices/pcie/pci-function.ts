// A PCI Express function with a Type 0 configuration header (PCI Local Bus 3.0 section 6.1,
// PCIe Base section 7.5.1): identity registers, Command/Status, memory BARs (size probing by
// writing all ones), a capability list with the PCI Express capability, and optionally MSI-X
// and the ATS extended capability. Subclasses put devices behind the BARs and drive INTx.
//
// The function's DMA goes through `dma`: requests carry the function's requester id
// (bus << 8 | devfn), are issued only while Command.Bus Master Enable is set (otherwise they
// fail as bus errors without leaving the function), and completions with errors set the
// architected Status bits (Received Master Abort for an Unsupported Request, Received Target
// Abort for a Completer Abort, Detected Parity Error for poisoned data). Bursts (one memory
// request TLP each) follow the same rules and count as one DMA read or write.
//
// A function with the ATS capability has an Address Translation Cache and sends its DMA
// through an AtsDmaPort (ats-port.ts), which uses ATS while ATS Control.Enable is set
// (PCIe Base 10.5.1). It completes the Invalidation Requests the host bridge routes to it
// while ATS is enabled, records the Page Request Group Responses it receives, and may send
// Page Requests.

import { InterruptLine } from '../../sim/irq.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import { join64 } from '../../sim/u64.js';
import { DmaPortStatus, DmaRequester, type DmaPort, type DmaPortStatusValue } from '../dma-port.js';
import { AddressTranslationCache, DEFAULT_ATC_GEOMETRY, type AtcGeometry } from './atc.js';
import type { AtsInvalidation, PageRequest, PageResponse } from './ats.js';
import { AtsDmaPort } from './ats-port.js';
import { ConfigSpace, HEADER_TYPE_MULTIFUNCTION, PciBarBits, PciCapId, PciCfg, PciCommand, PciExtCapId, PciStatus } from './config-space.js';
import type { PcieHostBridge } from './host-bridge.js';

export interface PciBar {
  /** Size in bytes: a power of two, at least 16 (4 KiB or more keeps BARs page-aligned). */
  size: bigint;
  /** A 64-bit BAR (it also takes the next BAR slot). */
  is64?: boolean;
  prefetchable?: boolean;
  /** The registers behind the BAR; offsets are relative to the BAR base. */
  device: MmioDevice;
}

/** PCI Express capability Device/Port Type: an endpoint below a root port, or integrated in the root complex. */
export type PcieDeviceType = 'endpoint' | 'rciep';

export interface AtsOptions {
  /**
   * Invalidate Queue Depth, 1..32 (32 is encoded as 0). Advertised only: the function
   * completes each Invalidation Request before the next one arrives, so its queue never fills.
   */
  invalidateQueueDepth?: number;
  pageAlignedRequest?: boolean;
  /** Global Invalidate Supported (see AtsDmaPort). */
  globalInvalidate?: boolean;
  /** Geometry of the Address Translation Cache (default 16 sets x 4 ways). */
  atc?: AtcGeometry;
}

/** MSI-X capability structure; the table and PBA themselves are registers of the BAR devices. */
export interface MsixOptions {
  vectors: number;
  tableBar: number;
  tableOffset: number;
  pbaBar: number;
  pbaOffset: number;
}

export interface PciFunctionOptions {
  name: string;
  vendor: number;
  device: number;
  /** 24-bit class code: base class << 16 | sub-class << 8 | programming interface. */
  classCode: number;
  revision?: number;
  subsystemVendor?: number;
  subsystem?: number;
  /** BARs by index (0..5); a 64-bit BAR leaves the next index empty. */
  bars?: readonly (PciBar | null | undefined)[];
  /** Interrupt Pin: 0 none, 1..4 INTA..INTD. */
  interruptPin?: number;
  /** Device/Port Type in the PCI Express capability (default: root-complex integrated endpoint). */
  pcieType?: PcieDeviceType;
  /** Adds the ATS extended capability. */
  ats?: AtsOptions | boolean;
  msix?: MsixOptions;
}

export class PciConfigurationError extends Error {}

export interface PciFunctionCounters {
  dmaReads: number;
  dmaWrites: number;
  /** Requests not issued because Bus Master Enable was clear. */
  dmaBlocked: number;
  /** Completions with an error status. */
  dmaErrors: number;
  /** Invalidation Requests completed (ATC entries dropped, Invalidation Completion sent). */
  atsInvalidations: number;
  /** Page Requests sent, and Page Request Group Responses received. */
  pageRequests: number;
  pageResponses: number;
}

/** Offsets of the capabilities in configuration space (0 when absent). */
export interface PciCapabilityOffsets {
  pcie: number;
  msix: number;
  ats: number;
}

export class PciFunction {
  readonly name: string;
  readonly config = new ConfigSpace();
  readonly bars: readonly (PciBar | null)[];
  readonly capabilities: PciCapabilityOffsets;
  /** The function's INTx output (its Interrupt Pin), honouring Command.Interrupt Disable. */
  readonly intx: InterruptLine;
  /** The function's upstream DMA path (see the file comment). */
  readonly dma: DmaPort;
  readonly counters: PciFunctionCounters = { dmaReads: 0, dmaWrites: 0, dmaBlocked: 0, dmaErrors: 0, atsInvalidations: 0, pageRequests: 0, pageResponses: 0 };
  /** The ATS path of the function's DMA (null without the ATS capability). */
  readonly atsPort: AtsDmaPort | null;
  /** Page Request Group Responses received, oldest first (for a PRI-capable master to act on). */
  readonly pageResponses: PageResponse[] = [];

  bridge: PcieHostBridge | null = null;
  segment = 0;
  /** Bus number and device << 3 | function, once placed on a host bridge (-1 before). */
  bus = -1;
  devfn = -1;

  private readonly barBases: (bigint | null)[] = [null, null, null, null, null, null];
  private command = 0;
  private intxLevel = false;

  constructor(options: PciFunctionOptions) {
    this.name = options.name;
    this.intx = new InterruptLine(`${options.name}.intx`);
    const c = this.config;
    c.set(PciCfg.VENDOR_ID, 2, options.vendor);
    c.set(PciCfg.DEVICE_ID, 2, options.device);
    c.set(PciCfg.REVISION_ID, 1, options.revision ?? 0);
    c.set(PciCfg.CLASS_CODE, 1, options.classCode & 0xff);
    c.set(PciCfg.CLASS_CODE + 1, 2, (options.classCode >>> 8) & 0xffff);
    c.set(PciCfg.SUBSYSTEM_VENDOR_ID, 2, options.subsystemVendor ?? options.vendor);
    c.set(PciCfg.SUBSYSTEM_ID, 2, options.subsystem ?? options.device);
    c.set(PciCfg.INTERRUPT_PIN, 1, options.interruptPin ?? 0);
    c.setWritable(PciCfg.COMMAND, 2, PciCommand.MEMORY_SPACE | PciCommand.BUS_MASTER | PciCommand.PARITY_ERROR_RESPONSE | PciCommand.SERR_ENABLE | PciCommand.INTX_DISABLE);
    c.setW1c(
      PciCfg.STATUS,
      2,
      PciStatus.MASTER_DATA_PARITY_ERROR |
        PciStatus.SIGNALED_TARGET_ABORT |
        PciStatus.RECEIVED_TARGET_ABORT |
        PciStatus.RECEIVED_MASTER_ABORT |
        PciStatus.SIGNALED_SYSTEM_ERROR |
        PciStatus.DETECTED_PARITY_ERROR,
    );
    c.setWritable(PciCfg.CACHE_LINE_SIZE, 1, 0xff);
    c.setWritable(PciCfg.INTERRUPT_LINE, 1, 0xff);
    this.bars = this.setUpBars(options.bars ?? []);
    const ats = options.ats === undefined || options.ats === false ? null : options.ats === true ? {} : options.ats;
    this.capabilities = {
      pcie: this.addPcieCapability(options.pcieType ?? 'rciep'),
      msix: options.msix === undefined ? 0 : this.addMsix(options.msix),
      ats: ats === null ? 0 : this.addAts(ats),
    };
    this.atsPort = ats === null ? null : new AtsDmaPort({ atc: new AddressTranslationCache(ats.atc ?? DEFAULT_ATC_GEOMETRY), globalInvalidate: ats.globalInvalidate === true });
    this.dma = new FunctionDmaPort(this);
  }

  /** PCIe requester id: bus << 8 | devfn. */
  get rid(): number {
    return (this.bus << 8) | this.devfn;
  }

  /** "bb:dd.f", as lspci prints it. */
  get bdf(): string {
    const h = (n: number) => n.toString(16).padStart(2, '0');
    return `${h(this.bus)}:${h(this.devfn >> 3)}.${this.devfn & 7}`;
  }

  get memoryEnabled(): boolean {
    return (this.command & PciCommand.MEMORY_SPACE) !== 0;
  }

  get busMasterEnabled(): boolean {
    return (this.command & PciCommand.BUS_MASTER) !== 0;
  }

  get atsEnabled(): boolean {
    return this.capabilities.ats !== 0 && (this.config.read(this.capabilities.ats + 6, 2) & 0x8000) !== 0;
  }

  /** ATS Smallest Translation Unit (log2 of 4 KiB units). */
  get atsStu(): number {
    return this.capabilities.ats === 0 ? 0 : this.config.read(this.capabilities.ats + 6, 2) & 0x1f;
  }

  /** The function's Address Translation Cache (null without the ATS capability). */
  get atc(): AddressTranslationCache | null {
    return this.atsPort?.atc ?? null;
  }

  get msixEnabled(): boolean {
    return this.capabilities.msix !== 0 && (this.config.read(this.capabilities.msix + 2, 2) & 0x8000) !== 0;
  }

  /** The PCI bus address BAR `index` holds now (null when the BAR is not implemented). */
  barBase(index: number): bigint | null {
    return this.barBases[index] ?? null;
  }

  /** Whether the function claims memory accesses to BAR `index` placed at `base`. */
  decodes(index: number, base: bigint): boolean {
    return (this.command & PciCommand.MEMORY_SPACE) !== 0 && this.barBases[index] === base;
  }

  // ---- configuration accesses (from the host bridge) ---------------------------------------

  configRead(offset: number, size: 1 | 2 | 4): number {
    return this.config.read(offset, size);
  }

  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    this.config.write(offset, size, value);
    const end = offset + size;
    if (offset < PciCfg.COMMAND + 2 && end > PciCfg.COMMAND) {
      this.command = this.config.read(PciCfg.COMMAND, 2);
      this.updateIntx();
    }
    if (offset < PciCfg.BAR0 + 24 && end > PciCfg.BAR0) this.updateBarBases();
    const ats = this.capabilities.ats;
    if (ats !== 0 && offset < ats + 8 && end > ats + 6) this.updateAtsControl();
    this.onConfigWrite(offset, size);
  }

  /** Called by the host bridge when it places the function. */
  attach(bridge: PcieHostBridge, segment: number, bus: number, devfn: number): void {
    this.bridge = bridge;
    this.segment = segment;
    this.bus = bus;
    this.devfn = devfn;
    if (this.atsPort !== null) this.atsPort.upstream = bridge.inbound;
    this.onAttach();
  }

  // ---- ATS and PRI messages (from and to the host bridge) ----------------------------------

  /**
   * An Invalidation Request routed to this function (PCIe Base 10.3): true once its ATC
   * entries are gone and the Invalidation Completion is sent; false (no completion) without
   * ATS, with ATS disabled, or for a malformed request.
   */
  invalidateAtc(request: AtsInvalidation): boolean {
    if (this.atsPort === null || !this.atsPort.invalidate(request)) return false;
    this.counters.atsInvalidations++;
    return true;
  }

  /** A Page Request Group Response routed to this function (PCIe Base 10.4.2): recorded. */
  pageResponse(response: PageResponse): boolean {
    this.counters.pageResponses++;
    this.pageResponses.push({ ...response });
    return true;
  }

  /**
   * Sends a Page Request (PCIe Base 10.4.1) under this function's requester id, for a master
   * that models PRI. False when the function is on no host bridge.
   */
  sendPageRequest(request: Omit<PageRequest, 'rid' | 'segment'>): boolean {
    if (this.bridge === null) return false;
    this.counters.pageRequests++;
    this.bridge.pageRequest({ ...request, rid: this.rid, segment: this.segment });
    return true;
  }

  /** Sets or clears Header Type bit 7 (the host bridge does, for multi-function devices). */
  setMultiFunction(on: boolean): void {
    if (on) this.config.setBits(PciCfg.HEADER_TYPE, 1, HEADER_TYPE_MULTIFUNCTION);
    else this.config.clearBits(PciCfg.HEADER_TYPE, 1, HEADER_TYPE_MULTIFUNCTION);
  }

  /** Function reset (as after a conventional reset): configuration registers to defaults. */
  resetConfig(): void {
    this.config.set(PciCfg.COMMAND, 2, 0);
    this.config.clearBits(PciCfg.STATUS, 2, 0xff00);
    for (let i = 0; i < 6; i++) {
      if (this.bars[i] === null) continue;
      const flags = this.config.read(PciCfg.BAR0 + 4 * i, 4) & PciBarBits.MEMORY_FLAGS;
      this.config.set(PciCfg.BAR0 + 4 * i, 4, flags);
      if (this.bars[i]?.is64 === true) this.config.set(PciCfg.BAR0 + 4 * i + 4, 4, 0);
    }
    if (this.capabilities.ats !== 0) {
      this.config.set(this.capabilities.ats + 6, 2, 0);
      this.updateAtsControl();
    }
    if (this.capabilities.msix !== 0) this.config.clearBits(this.capabilities.msix + 2, 2, 0xc000);
    this.command = 0;
    this.updateBarBases();
    this.updateIntx();
  }

  // ---- for subclasses ----------------------------------------------------------------------

  /** Drives the function's legacy interrupt (reflected in Status.Interrupt Status). */
  protected setInterruptLevel(level: boolean): void {
    this.intxLevel = level;
    this.updateIntx();
  }

  protected onAttach(): void {}

  protected onConfigWrite(_offset: number, _size: number): void {}

  /** Records a completion error in the Status register (called by the DMA path). */
  noteCompletionError(status: DmaPortStatusValue): void {
    this.counters.dmaErrors++;
    const bits =
      status === DmaPortStatus.Aborted
        ? PciStatus.RECEIVED_MASTER_ABORT
        : status === DmaPortStatus.BusError
          ? PciStatus.RECEIVED_TARGET_ABORT
          : (this.command & PciCommand.PARITY_ERROR_RESPONSE) !== 0
            ? PciStatus.DETECTED_PARITY_ERROR | PciStatus.MASTER_DATA_PARITY_ERROR
            : PciStatus.DETECTED_PARITY_ERROR;
    this.config.setBits(PciCfg.STATUS, 2, bits);
  }

  // ---- setup -------------------------------------------------------------------------------

  private setUpBars(specs: readonly (PciBar | null | undefined)[]): (PciBar | null)[] {
    if (specs.length > 6) throw new PciConfigurationError(`${this.name}: a Type 0 header has 6 BARs, not ${specs.length}`);
    const bars: (PciBar | null)[] = [null, null, null, null, null, null];
    for (let i = 0; i < specs.length; i++) {
      const bar = specs[i];
      if (bar === null || bar === undefined) continue;
      if (i > 0 && specs[i - 1]?.is64 === true) throw new PciConfigurationError(`${this.name}: BAR${i} is the upper half of 64-bit BAR${i - 1}`);
      const size = bar.size;
      if (size < 16n || (size & (size - 1n)) !== 0n) throw new PciConfigurationError(`${this.name}: BAR${i} size ${size} is not a power of two >= 16`);
      if (!bar.is64 && size > 0x8000_0000n) throw new PciConfigurationError(`${this.name}: 32-bit BAR${i} cannot be ${size} bytes`);
      if (bar.is64 === true && i === 5) throw new PciConfigurationError(`${this.name}: 64-bit BAR5 has no upper half`);
      bars[i] = bar;
      const flags = (bar.is64 === true ? PciBarBits.TYPE_64 : 0) | (bar.prefetchable === true ? PciBarBits.PREFETCHABLE : 0);
      const addressMask = ~(size - 1n) & 0xffff_ffff_ffff_fff0n;
      const off = PciCfg.BAR0 + 4 * i;
      this.config.set(off, 4, flags);
      this.config.setWritable(off, 4, Number(addressMask & 0xffff_ffffn));
      if (bar.is64 === true) this.config.setWritable(off + 4, 4, Number(addressMask >> 32n));
    }
    for (let i = 0; i < 6; i++) if (bars[i] !== null) this.barBases[i] = 0n;
    return bars;
  }

  private updateBarBases(): void {
    for (let i = 0; i < 6; i++) {
      const bar = this.bars[i];
      if (bar === null) continue;
      const off = PciCfg.BAR0 + 4 * i;
      const lo = (this.config.read(off, 4) & ~PciBarBits.MEMORY_FLAGS) >>> 0;
      const hi = bar.is64 === true ? this.config.read(off + 4, 4) : 0;
      this.barBases[i] = join64(hi, lo);
    }
  }

  /** ATS Control, as the ATS path applies it (a change of Enable or STU empties the ATC). */
  private updateAtsControl(): void {
    const port = this.atsPort;
    if (port === null) return;
    port.enabled = this.atsEnabled;
    port.stu = this.atsStu;
  }

  private updateIntx(): void {
    if (this.intxLevel) this.config.setBits(PciCfg.STATUS, 2, PciStatus.INTERRUPT);
    else this.config.clearBits(PciCfg.STATUS, 2, PciStatus.INTERRUPT);
    this.intx.set(this.intxLevel && (this.command & PciCommand.INTX_DISABLE) === 0);
  }

  /** PCI Express Capability (PCIe Base 7.5.3), version 2, 0x3c bytes. */
  private addPcieCapability(type: PcieDeviceType): number {
    const c = this.config;
    const cap = c.addCapability(PciCapId.PCIE, 0x3c);
    c.set(cap + 0x02, 2, 2 | ((type === 'rciep' ? 9 : 0) << 4));
    // Device Capabilities: Max_Payload_Size Supported 256 bytes, Role-Based Error Reporting.
    c.set(cap + 0x04, 4, 1 | (1 << 15));
    // Device Control: error reporting enables, relaxed ordering, MPS, extended tags, no snoop,
    // MRRS are writable; reset value: MPS 128 bytes, MRRS 512 bytes.
    c.set(cap + 0x08, 2, 0x2000 | (1 << 4) | (1 << 11));
    c.setWritable(cap + 0x08, 2, 0x7fff);
    // Device Status: the error-detected bits are RW1C.
    c.setW1c(cap + 0x0a, 2, 0xf);
    if (type === 'endpoint') {
      // Link: 2.5 GT/s, x1 (an integrated endpoint has no link registers).
      c.set(cap + 0x0c, 4, 0x11);
      c.set(cap + 0x12, 2, 0x11);
    }
    return cap;
  }

  /** MSI-X capability (PCIe Base 7.7.2). */
  private addMsix(o: MsixOptions): number {
    if (o.vectors < 1 || o.vectors > 2048) throw new PciConfigurationError(`${this.name}: MSI-X needs 1..2048 vectors`);
    for (const [what, bar, offset] of [
      ['table', o.tableBar, o.tableOffset],
      ['PBA', o.pbaBar, o.pbaOffset],
    ] as const) {
      if (this.bars[bar] === null || this.bars[bar] === undefined) throw new PciConfigurationError(`${this.name}: MSI-X ${what} is in BAR${bar}, which is not implemented`);
      if ((offset & 7) !== 0) throw new PciConfigurationError(`${this.name}: MSI-X ${what} offset must be 8-byte aligned`);
    }
    const c = this.config;
    const cap = c.addCapability(PciCapId.MSIX, 12);
    c.set(cap + 2, 2, o.vectors - 1);
    c.setWritable(cap + 2, 2, 0xc000); // MSI-X Enable, Function Mask
    c.set(cap + 4, 4, (o.tableOffset | o.tableBar) >>> 0);
    c.set(cap + 8, 4, (o.pbaOffset | o.pbaBar) >>> 0);
    return cap;
  }

  /** ATS Extended Capability (PCIe Base 10.5.1): capability and control registers. */
  private addAts(o: AtsOptions): number {
    const depth = o.invalidateQueueDepth ?? 32;
    if (depth < 1 || depth > 32) throw new PciConfigurationError(`${this.name}: ATS Invalidate Queue Depth must be 1..32`);
    const c = this.config;
    const cap = c.addExtendedCapability(PciExtCapId.ATS, 1, 8);
    c.set(cap + 4, 2, (depth & 0x1f) | (o.pageAlignedRequest === true ? 1 << 5 : 0) | (o.globalInvalidate === true ? 1 << 6 : 0));
    c.setWritable(cap + 6, 2, 0x801f); // Enable, Smallest Translation Unit
    return cap;
  }
}

/** The function's upstream DMA path: Bus Master Enable, the requester id, completion status bits. */
class FunctionDmaPort implements DmaPort {
  value = 0n;
  private readonly requester = new DmaRequester();

  constructor(private readonly fn: PciFunction) {}

  read(requester: DmaRequester, address: bigint, size: MmioSize): DmaPortStatusValue {
    const up = this.upstream(false);
    if (up === null) return DmaPortStatus.BusError;
    const s = up.read(this.stamp(requester), address, size);
    // A poisoned completion still delivers its data (DmaPort: the data is there but flagged).
    if (s === DmaPortStatus.Ok || s === DmaPortStatus.Poisoned) this.value = up.value;
    else this.fn.noteCompletionError(s);
    return s;
  }

  write(requester: DmaRequester, address: bigint, size: MmioSize, data: bigint): DmaPortStatusValue {
    const up = this.upstream(true);
    return up === null ? DmaPortStatus.BusError : this.posted(up.write(this.stamp(requester), address, size, data));
  }

  readBurst(requester: DmaRequester, address: bigint, length: number, into: Uint8Array, offset: number): DmaPortStatusValue {
    const up = this.upstream(false);
    if (up === null) return DmaPortStatus.BusError;
    const s = up.readBurst(this.stamp(requester), address, length, into, offset);
    if (s !== DmaPortStatus.Ok) this.fn.noteCompletionError(s);
    return s;
  }

  writeBurst(requester: DmaRequester, address: bigint, length: number, from: Uint8Array, offset: number): DmaPortStatusValue {
    const up = this.upstream(true);
    return up === null ? DmaPortStatus.BusError : this.posted(up.writeBurst(this.stamp(requester), address, length, from, offset));
  }

  /** A posted write's error reaches Status only when its Translation Request failed (that had a completion). */
  private posted(s: DmaPortStatusValue): DmaPortStatusValue {
    if (s !== DmaPortStatus.Ok && this.fn.atsPort?.failedAtTranslation === true) this.fn.noteCompletionError(s);
    return s;
  }

  /** Counts the request; the ATS path or the root complex's port, or null when the function may not master the bus. */
  private upstream(write: boolean): DmaPort | null {
    const fn = this.fn;
    if (write) fn.counters.dmaWrites++;
    else fn.counters.dmaReads++;
    if (fn.bridge === null || !fn.busMasterEnabled) {
      fn.counters.dmaBlocked++;
      return null;
    }
    return fn.atsPort ?? fn.bridge.inbound;
  }

  /** A function can only send its own requester id; PASID and privilege come from the master. */
  private stamp(from: DmaRequester): DmaRequester {
    const r = this.requester;
    r.deviceId = this.fn.rid;
    r.pasidValid = from.pasidValid;
    r.pasid = from.pasid;
    r.privileged = from.privileged;
    return r;
  }
}
