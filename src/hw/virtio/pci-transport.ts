// A virtio device as a modern (non-transitional) PCI function (VIRTIO 1.3 section 4.1):
// vendor 0x1AF4, device 0x1040 + the virtio device id, and the virtio structures located by
// vendor-specific capabilities (4.1.4): common configuration, notifications with
// notify_off_multiplier, the ISR byte, the device-specific configuration, and the PCI
// configuration access capability that reaches all of them through configuration space.
// Layout in the BARs: see pci-layout.ts.
//
// Notifications to the driver (4.1.5.3, 4.1.5.4): while MSI-X is disabled, the ISR bits and
// the INTx wire (INTA, honouring Command.Interrupt Disable); reading the ISR clears it and
// lowers the wire. While MSI-X is enabled, a message on the vector mapped to the queue or to
// configuration changes (none when unmapped); the ISR's configuration bit is still set.
// MSI-X messages are memory writes of the function, so they need Bus Master Enable.
//
// Register access rules: see pci-common-config.ts for the common configuration; the ISR
// answers any read at its offset 0; the device configuration takes 1-, 2- and 4-byte
// accesses (8 bytes: two dwords); a write of any size at queue i's notification address
// (i * notify_off_multiplier) notifies queue i. Everything else reads 0 and is ignored.

import { DmaRequester } from '../../devices/dma-port.js';
import { PciFunction, type AtsOptions, type PciBar, type PcieDeviceType } from '../../devices/pcie/pci-function.js';
import { COMMON_CFG_SIZE, PCI_CAP_ID_VNDR, PCI_CFG_DATA, NOTIFY_OFF_MULTIPLIER, VIRTIO_MSI_MAX_VECTOR, VIRTIO_MSI_NO_VECTOR, VIRTIO_PCI_CAP_SIZE, VIRTIO_PCI_CFG_CAP_SIZE, VIRTIO_PCI_NOTIFY_CAP_SIZE, VIRTIO_PCI_VENDOR, VirtioPciCap, VirtioPciCapType, VirtioPciIsr, virtioPciDeviceId } from '../../formats/virtio/pci.js';
import type { MmioDevice, MmioSize } from '../../sim/mmio.js';
import { VirtioDeviceCore, type NotificationSink } from './core.js';
import type { VirtioDeviceModel } from './device.js';
import { MsixTable, type MsixHost } from './msix-table.js';
import type { VirtioTransportParameters } from './parameters.js';
import { PciCommonConfig } from './pci-common-config.js';
import { msixBarSize, VirtioPciLayout } from './pci-layout.js';

export interface VirtioPciFunctionOptions extends VirtioTransportParameters {
  name?: string;
  model: VirtioDeviceModel;
  /** 24-bit class code. Default 0xff0000 (no defined class), as QEMU's virtio-iommu-pci. */
  classCode?: number;
  /** Revision ID: 1 or more for a non-transitional device (4.1.2.1). Default 1. */
  revision?: number;
  /** Subsystem ID: 0x40 or more for a non-transitional device (4.1.2.1). Default 0x40. */
  subsystem?: number;
  /** MSI-X table size (0: no MSI-X capability, INTx only). Default: one per queue plus one for configuration changes. */
  msixVectors?: number;
  /** notify_off_multiplier: an even power of two, or 0 for one address for all queues (4.1.4.4.1). Default 4. */
  notifyOffMultiplier?: number;
  pcieType?: PcieDeviceType;
  ats?: AtsOptions | boolean;
}

export class VirtioPciConfigurationError extends Error {}

/** Offsets of the virtio capabilities in configuration space. */
export interface VirtioPciCapabilityOffsets {
  common: number;
  notify: number;
  isr: number;
  device: number;
  pciCfg: number;
}

export interface VirtioPciCounters {
  /** PCI configuration access capability accesses that named no virtio structure. */
  badPciCfgAccesses: number;
  /** BAR accesses that matched no register. */
  badAccesses: number;
  /** INTx assertions (ISR going from 0 to non-zero). */
  intxAssertions: number;
}

export class VirtioPciFunction extends PciFunction implements NotificationSink, MsixHost {
  readonly core: VirtioDeviceCore;
  readonly common: PciCommonConfig;
  readonly msix: MsixTable | null;
  readonly virtioCaps: VirtioPciCapabilityOffsets;
  readonly notifyOffMultiplier: number;
  readonly virtioCounters: VirtioPciCounters = { badPciCfgAccesses: 0, badAccesses: 0, intxAssertions: 0 };
  private isr = 0;
  private readonly msiRequester = new DmaRequester();
  /** [offset, length] of each structure in the virtio BAR. */
  private readonly structures: readonly (readonly [number, number])[];

  constructor(o: VirtioPciFunctionOptions) {
    const queues = o.model.queueMaxSizes.length;
    const vectors = o.msixVectors ?? queues + 1;
    const multiplier = o.notifyOffMultiplier ?? 4;
    const name = o.name ?? `virtio-pci-${o.model.deviceId}`;
    if (vectors < 0 || vectors > VIRTIO_MSI_MAX_VECTOR + 1) throw new VirtioPciConfigurationError(`${name}: an MSI-X table has 1..2048 vectors (0 for none), not ${vectors}`);
    if (multiplier !== 0 && (multiplier < 2 || (multiplier & (multiplier - 1)) !== 0 || Math.log2(multiplier) % 2 !== 0)) {
      throw new VirtioPciConfigurationError(`${name}: notify_off_multiplier must be 0 or an even power of two, not ${multiplier}`);
    }
    if (queues * multiplier > VirtioPciLayout.REGION_SIZE || queues > 0xffff) throw new VirtioPciConfigurationError(`${name}: ${queues} queues do not fit the notification page`);
    const registers = new VirtioPciBar();
    const msix = vectors > 0 ? new MsixTable(vectors, vectors * 16) : null;
    const bars: (PciBar | null)[] = [null, null, null, null, null, null];
    if (msix !== null) bars[VirtioPciLayout.MSIX_BAR] = { size: BigInt(msixBarSize(vectors)), device: msix };
    bars[VirtioPciLayout.VIRTIO_BAR] = { size: BigInt(VirtioPciLayout.VIRTIO_BAR_SIZE), is64: true, prefetchable: true, device: registers };
    super({
      name,
      vendor: VIRTIO_PCI_VENDOR,
      device: virtioPciDeviceId(o.model.deviceId),
      classCode: o.classCode ?? 0xff0000,
      revision: o.revision ?? 1,
      subsystemVendor: VIRTIO_PCI_VENDOR,
      subsystem: o.subsystem ?? 0x40,
      bars,
      interruptPin: 1,
      pcieType: o.pcieType,
      ats: o.ats,
      msix: msix === null ? undefined : { vectors, tableBar: VirtioPciLayout.MSIX_BAR, tableOffset: 0, pbaBar: VirtioPciLayout.MSIX_BAR, pbaOffset: msix.pbaOffset },
    });
    this.notifyOffMultiplier = multiplier;
    this.core = new VirtioDeviceCore({ ...o, name, port: this.dma, requester: new DmaRequester() }, this);
    this.common = new PciCommonConfig(this.core, vectors);
    this.msix = msix;
    if (msix !== null) msix.host = this;
    registers.fn = this;
    const notifyLength = Math.max(2, queues * multiplier);
    const configSize = o.model.configSize;
    this.structures = [
      [VirtioPciLayout.COMMON, COMMON_CFG_SIZE],
      [VirtioPciLayout.ISR, 1],
      [VirtioPciLayout.NOTIFY, notifyLength],
      ...(configSize > 0 ? [[VirtioPciLayout.DEVICE, configSize] as const] : []),
    ];
    this.virtioCaps = {
      common: this.addVirtioCap(VirtioPciCapType.COMMON_CFG, VIRTIO_PCI_CAP_SIZE, VirtioPciLayout.VIRTIO_BAR, VirtioPciLayout.COMMON, COMMON_CFG_SIZE),
      isr: this.addVirtioCap(VirtioPciCapType.ISR_CFG, VIRTIO_PCI_CAP_SIZE, VirtioPciLayout.VIRTIO_BAR, VirtioPciLayout.ISR, 1),
      device: configSize > 0 ? this.addVirtioCap(VirtioPciCapType.DEVICE_CFG, VIRTIO_PCI_CAP_SIZE, VirtioPciLayout.VIRTIO_BAR, VirtioPciLayout.DEVICE, configSize) : 0,
      notify: this.addVirtioCap(VirtioPciCapType.NOTIFY_CFG, VIRTIO_PCI_NOTIFY_CAP_SIZE, VirtioPciLayout.VIRTIO_BAR, VirtioPciLayout.NOTIFY, notifyLength),
      pciCfg: this.addVirtioCap(VirtioPciCapType.PCI_CFG, VIRTIO_PCI_CFG_CAP_SIZE, 0, 0, 0),
    };
    this.config.set(this.virtioCaps.notify + NOTIFY_OFF_MULTIPLIER, 4, multiplier);
    // The PCI configuration access capability's bar, offset, length and data are read-write.
    const p = this.virtioCaps.pciCfg;
    this.config.setWritable(p + VirtioPciCap.BAR, 1, 0xff);
    this.config.setWritable(p + VirtioPciCap.OFFSET, 4, 0xffff_ffff);
    this.config.setWritable(p + VirtioPciCap.LENGTH, 4, 0xffff_ffff);
    this.config.setWritable(p + PCI_CFG_DATA, 4, 0xffff_ffff);
  }

  /** The ISR status byte, without the read side effect. */
  get isrStatus(): number {
    return this.isr;
  }

  get msixFunctionMasked(): boolean {
    return this.capabilities.msix !== 0 && (this.config.read(this.capabilities.msix + 2, 2) & 0x4000) !== 0;
  }

  // ---- NotificationSink ------------------------------------------------------------------------

  usedBufferNotification(queue: number): void {
    if (this.msixEnabled) {
      const vector = this.common.queueVectors[queue];
      if (vector !== VIRTIO_MSI_NO_VECTOR) this.msix?.signal(vector);
      return;
    }
    this.raiseIsr(VirtioPciIsr.QUEUE);
  }

  configChangeNotification(): void {
    if (this.msixEnabled) {
      this.isr |= VirtioPciIsr.CONFIG;
      if (this.common.configVector !== VIRTIO_MSI_NO_VECTOR) this.msix?.signal(this.common.configVector);
      return;
    }
    this.raiseIsr(VirtioPciIsr.CONFIG);
  }

  deviceReset(): void {
    this.isr = 0;
    this.setInterruptLevel(false);
    this.common.reset();
  }

  // ---- MsixHost ----------------------------------------------------------------------------

  sendMsi(address: bigint, data: number): void {
    this.dma.write(this.msiRequester, address, 4, BigInt(data >>> 0));
  }

  /** A function reset (as a Function Level Reset) also resets the virtio device and its MSI-X table. */
  override resetConfig(): void {
    super.resetConfig();
    this.core.reset();
    this.msix?.reset();
  }

  // ---- configuration space -----------------------------------------------------------------

  override configRead(offset: number, size: 1 | 2 | 4): number {
    const data = this.virtioCaps.pciCfg + PCI_CFG_DATA;
    if (offset < data + 4 && offset + size > data) this.pciCfgAccess(false);
    return super.configRead(offset, size);
  }

  protected override onConfigWrite(offset: number, size: number): void {
    const data = this.virtioCaps.pciCfg + PCI_CFG_DATA;
    if (offset < data + 4 && offset + size > data) this.pciCfgAccess(true);
    const control = this.capabilities.msix + 2;
    if (this.msix !== null && offset < control + 2 && offset + size > control) {
      // While MSI-X is enabled the function may not use INTx; clearing Function Mask (or
      // enabling MSI-X) releases the messages held pending.
      this.setInterruptLevel(!this.msixEnabled && this.isr !== 0);
      this.msix.deliverPending();
    }
  }

  // ---- the virtio BAR (called by VirtioPciBar) ---------------------------------------------

  /** @internal */
  barRead(offset: number, size: 1 | 2 | 4): number {
    const region = offset - (offset % VirtioPciLayout.REGION_SIZE);
    const at = offset - region;
    switch (region) {
      case VirtioPciLayout.COMMON:
        return this.common.read(at, size);
      case VirtioPciLayout.ISR: {
        if (at !== 0) return this.bad();
        const value = this.isr;
        // 4.1.4.5: reading the ISR clears it and de-asserts the interrupt.
        this.isr = 0;
        this.setInterruptLevel(false);
        return value;
      }
      case VirtioPciLayout.DEVICE:
        return this.core.readConfig(at, size);
      default:
        return this.bad();
    }
  }

  /** @internal */
  barWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    const region = offset - (offset % VirtioPciLayout.REGION_SIZE);
    const at = offset - region;
    switch (region) {
      case VirtioPciLayout.COMMON:
        this.common.write(at, size, value);
        return;
      case VirtioPciLayout.DEVICE:
        this.core.writeConfig(at, size, value);
        return;
      case VirtioPciLayout.NOTIFY:
        this.notifyWrite(at, value);
        return;
      default:
        this.bad();
    }
  }

  private notifyWrite(at: number, value: number): void {
    const m = this.notifyOffMultiplier;
    if (m === 0) {
      this.core.notify(value & 0xffff);
      return;
    }
    if (at % m !== 0 || at / m >= this.core.queues.length) {
      this.bad();
      return;
    }
    this.core.notify(at / m);
  }

  private raiseIsr(bit: number): void {
    if (this.isr === 0) this.virtioCounters.intxAssertions++;
    this.isr |= bit;
    this.setInterruptLevel(true);
  }

  private bad(): number {
    this.virtioCounters.badAccesses++;
    return 0;
  }

  /** Performs the BAR access the PCI configuration access capability describes (4.1.4.9). */
  private pciCfgAccess(write: boolean): void {
    const c = this.config;
    const cap = this.virtioCaps.pciCfg;
    const bar = c.read(cap + VirtioPciCap.BAR, 1);
    const offset = c.read(cap + VirtioPciCap.OFFSET, 4);
    const length = c.read(cap + VirtioPciCap.LENGTH, 4);
    const inStructure = this.structures.some(([start, len]) => offset >= start && offset + length <= start + len);
    if (bar !== VirtioPciLayout.VIRTIO_BAR || (length !== 1 && length !== 2 && length !== 4) || offset % length !== 0 || !inStructure) {
      this.virtioCounters.badPciCfgAccesses++;
      return;
    }
    if (write) this.barWrite(offset, length, c.read(cap + PCI_CFG_DATA, length));
    else c.set(cap + PCI_CFG_DATA, length, this.barRead(offset, length));
  }

  private addVirtioCap(type: number, capLength: number, bar: number, offset: number, length: number): number {
    const c = this.config;
    const cap = c.addCapability(PCI_CAP_ID_VNDR, capLength);
    c.set(cap + VirtioPciCap.CAP_LEN, 1, capLength);
    c.set(cap + VirtioPciCap.CFG_TYPE, 1, type);
    c.set(cap + VirtioPciCap.BAR, 1, bar);
    c.set(cap + VirtioPciCap.OFFSET, 4, offset);
    c.set(cap + VirtioPciCap.LENGTH, 4, length);
    return cap;
  }
}

/** The virtio BAR's registers, forwarding to the function (built before it, for its constructor). */
class VirtioPciBar implements MmioDevice {
  fn: VirtioPciFunction | null = null;

  mmioRead(offset: number, size: MmioSize): bigint {
    const fn = this.fn as VirtioPciFunction;
    if (size === 8) return (BigInt(fn.barRead(offset + 4, 4)) << 32n) | BigInt(fn.barRead(offset, 4));
    return BigInt(fn.barRead(offset, size));
  }

  mmioWrite(offset: number, size: MmioSize, value: bigint): void {
    const fn = this.fn as VirtioPciFunction;
    if (size === 8) {
      fn.barWrite(offset, 4, Number(value & 0xffff_ffffn));
      fn.barWrite(offset + 4, 4, Number((value >> 32n) & 0xffff_ffffn));
      return;
    }
    fn.barWrite(offset, size, Number(value & 0xffff_ffffn));
  }

  mmioRead32(offset: number): number {
    return (this.fn as VirtioPciFunction).barRead(offset, 4) >>> 0;
  }

  mmioWrite32(offset: number, value: number): void {
    (this.fn as VirtioPciFunction).barWrite(offset, 4, value >>> 0);
  }
}
