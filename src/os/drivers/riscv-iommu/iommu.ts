// One RISC-V IOMMU instance as the driver keeps it once it is up: its capabilities, device
// directory and queues; the interrupt handler; device-context updates in the order the
// specification's software guidelines require; invalidations; fault reporting. It is the
// `IommuInstance` registered with the IOMMU core.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { iodirInvalDdt, iotinvalGvma, iotinvalVma } from '../../../formats/riscv-iommu/commands.js';
import { IpsrLayout, Reg } from '../../../formats/riscv-iommu/registers.js';
import { DcTcLayout, DcWord } from '../../../formats/riscv-iommu/structures.js';
import { fieldMask } from '../../../formats/bitfield.js';
import type { Device } from '../../driver-model/device.js';
import { DomainType, IommuDomain, type DeviceIommu, type IommuInstance, type IommuOps, type IotlbGather } from '../../core/types.js';
import type { RiscvPgtableModeName } from '../../io-pgtable/riscv.js';
import { firstStageMode, type RiscvIommuCaps } from './capabilities.js';
import type { CommandQueue } from './command-queue.js';
import type { IommuContext } from './context.js';
import type { DeviceDirectory } from './directory.js';
import { blockedDomainOps, identityDomainOps, RiscvPagingDomain } from './domains.js';
import { RiscvIommuError } from './errors.js';
import type { FaultQueue } from './fault-queue.js';
import { accessOf, formatFaultRecord, type FaultRecord } from './fault-record.js';
import { IdAllocator } from '../../lib/id-allocator.js';
import type { InterruptSetup } from './interrupts.js';
import type { PageRequestQueue } from './page-request-queue.js';
import { RiscvIommuOps } from './ops.js';
import type { RiscvIommuStats } from './stats.js';

/** Invalidate a whole PSCID instead of page by page from this many 4 KiB pages (Linux: 2 MiB). */
export const IOTLB_INVAL_LIMIT_PAGES = 512;
/** Largest PSCID (20 bits); 0 is left unused, as Linux does. */
export const MAX_PSCID = 2 ** 20 - 1;
/** Fault reports logged at warning level before the rest go to the debug level. */
const FAULT_LOG_LIMIT = 16;
/** Decoded fault records kept for reports. */
const RECENT_FAULTS = 64;

const TC_V = 1n;
const TC_SADE = fieldMask(DcTcLayout.SADE);
const TC_SBE = fieldMask(DcTcLayout.SBE);
const TC_PDTV = fieldMask(DcTcLayout.PDTV);
const FSC_MODE_SHIFT = 60n;
const TA_PSCID_SHIFT = 12n;

/** What the driver keeps per device (DeviceIommu.driverData). */
export interface RiscvDeviceInfo {
  /** The domain the device's contexts point at now. */
  domain: IommuDomain | null;
}

/** What a device context should say after an update. */
export interface ContextTarget {
  valid: boolean;
  /** iosatp (MODE and PPN), 0 for Bare. */
  fsc: bigint;
  pscid: number;
}

export interface RiscvIommuParts {
  ctx: IommuContext;
  node: DtNode;
  device: Device;
  caps: RiscvIommuCaps;
  fctl: number;
  directory: DeviceDirectory;
  cmdq: CommandQueue;
  fltq: FaultQueue;
  priq: PageRequestQueue | null;
  interrupts: InterruptSetup;
}

export class RiscvIommuDevice implements IommuInstance {
  readonly name: string;
  readonly node: DtNode;
  readonly device: Device;
  readonly ops: IommuOps;
  readonly ctx: IommuContext;
  readonly stats: RiscvIommuStats;
  readonly caps: RiscvIommuCaps;
  readonly fctl: number;
  readonly directory: DeviceDirectory;
  readonly cmdq: CommandQueue;
  readonly fltq: FaultQueue;
  readonly priq: PageRequestQueue | null;
  readonly interrupts: InterruptSetup;
  /** First-stage mode of new paging domains (null: the IOMMU has none). */
  readonly firstStage: RiscvPgtableModeName | null;
  readonly pscids = new IdAllocator(1, MAX_PSCID);
  readonly identityDomain: IommuDomain;
  readonly blockedDomain: IommuDomain;
  /** Devices by device_id, from the fwspecs the core handed to probeDevice. */
  readonly devicesById = new Map<number, Device[]>();
  /** The most recent fault records, oldest first. */
  readonly recentFaults: FaultRecord[] = [];
  /** tc bits every device context gets: SADE with hardware A/D updating, SBE on big-endian CPUs. */
  readonly tcBase: bigint;

  constructor(p: RiscvIommuParts) {
    this.ctx = p.ctx;
    this.name = p.ctx.name;
    this.stats = p.ctx.stats;
    this.node = p.node;
    this.device = p.device;
    this.caps = p.caps;
    this.fctl = p.fctl;
    this.directory = p.directory;
    this.cmdq = p.cmdq;
    this.fltq = p.fltq;
    this.priq = p.priq;
    this.interrupts = p.interrupts;
    this.firstStage = firstStageMode(p.caps);
    this.tcBase = (p.caps.amoHwad ? TC_SADE : 0n) | (p.ctx.kernel.memory.endianness === 'big' ? TC_SBE : 0n);
    this.identityDomain = new IommuDomain(DomainType.Identity, identityDomainOps, this, [], { start: 0n, end: (1n << 64n) - 1n }, `${this.name} identity`);
    this.blockedDomain = new IommuDomain(DomainType.Blocked, blockedDomainOps, this, [], { start: 0n, end: 0n }, `${this.name} blocked`);
    this.identityDomain.driverData = this;
    this.blockedDomain.driverData = this;
    this.ops = new RiscvIommuOps(this);
  }

  get kernel(): IommuContext['kernel'] {
    return this.ctx.kernel;
  }

  // ---- interrupts ---------------------------------------------------------------------------

  /** The handler of every vector: services whatever ipsr shows (interrupt guidelines). */
  interrupt(): void {
    const regs = this.ctx.regs;
    this.stats.interrupts++;
    const ipsr = regs.read32(Reg.ipsr);
    if ((ipsr & (1 << IpsrLayout.cip.lsb)) !== 0) {
      this.cmdq.handleErrors();
      regs.write32(Reg.ipsr, 1 << IpsrLayout.cip.lsb);
    }
    if ((ipsr & (1 << IpsrLayout.fip.lsb)) !== 0) this.fltq.handle();
    if ((ipsr & (1 << IpsrLayout.pip.lsb)) !== 0) {
      if (this.priq !== null) this.priq.handle();
      else regs.write32(Reg.ipsr, 1 << IpsrLayout.pip.lsb);
    }
    if ((ipsr & (1 << IpsrLayout.pmip.lsb)) !== 0) regs.write32(Reg.ipsr, 1 << IpsrLayout.pmip.lsb); // no HPM use
  }

  // ---- devices ------------------------------------------------------------------------------

  /** The core's state for `dev` when `dev` is behind this IOMMU, else null. */
  deviceIommu(dev: Device): DeviceIommu | null {
    const info = this.kernel.iommu.deviceIommu(dev);
    return info !== null && info.fwspec.iommu === this ? info : null;
  }

  deviceInfo(dev: Device): RiscvDeviceInfo | null {
    const info = this.deviceIommu(dev);
    if (info === null) return null;
    if (info.driverData === undefined) info.driverData = { domain: null } satisfies RiscvDeviceInfo;
    return info.driverData as RiscvDeviceInfo;
  }

  /** The device that uses `deviceId`, if the driver knows one. */
  deviceFor(deviceId: number): Device | null {
    return this.devicesById.get(deviceId)?.[0] ?? null;
  }

  /**
   * Points every device context of `dev` at `target`, following "Changing device directory
   * table entry": a valid context is first made invalid (V=0, IODIR.INVAL_DDT, IOFENCE.C);
   * then the fields are written with V last, and IODIR.INVAL_DDT, IOTINVAL.VMA for the PSCID
   * the old context translated with, and IOFENCE.C follow.
   */
  updateContexts(dev: Device, domain: IommuDomain, target: ContextTarget, paging: RiscvPagingDomain | null): string | null {
    const info = this.deviceIommu(dev);
    if (info === null) return `${dev.name} is not behind ${this.name}`;
    const ids = info.fwspec.ids;
    const slots: bigint[] = [];
    for (const id of ids) {
      const a = this.directory.contextAddress(id, true);
      if (a === null) return `device id ${id} does not fit the ${this.directory.modeName} directory`;
      slots.push(a);
    }
    try {
      const old = slots.map((a) => this.directory.read(a));
      let wasValid = false;
      ids.forEach((id, i) => {
        if ((old[i].tc & TC_V) === 0n) return;
        this.directory.writeWord(slots[i], DcWord.tc, old[i].tc & ~TC_V);
        this.cmdq.submit(iodirInvalDdt(id));
        wasValid = true;
      });
      if (wasValid) this.cmdq.sync();

      const tc = this.tcBase | (target.valid ? TC_V : 0n);
      ids.forEach((id, i) => {
        this.directory.writeWord(slots[i], DcWord.fsc, target.fsc);
        this.directory.writeWord(slots[i], DcWord.ta, BigInt(target.pscid) << TA_PSCID_SHIFT);
        this.directory.writeWord(slots[i], DcWord.iohgatp, 0n);
        this.directory.writeWord(slots[i], DcWord.tc, tc); // V last
        this.cmdq.submit(iodirInvalDdt(id));
      });
      // IOTLB entries tagged with the PSCID the old contexts used (their first stage was not Bare).
      const stale = new Set<number>();
      for (const o of old) {
        if ((o.tc & TC_V) !== 0n && (o.tc & TC_PDTV) === 0n && o.fsc >> FSC_MODE_SHIFT !== 0n) stale.add(Number((o.ta >> TA_PSCID_SHIFT) & 0xfffffn));
      }
      for (const pscid of stale) this.cmdq.submit(iotinvalVma({ pscid }));
      this.cmdq.sync();
    } catch (e) {
      if (e instanceof RiscvIommuError) return e.message;
      throw e;
    }

    const di = this.deviceInfo(dev) as RiscvDeviceInfo;
    const prev = di.domain?.driverData;
    if (prev instanceof RiscvPagingDomain) prev.attached.delete(dev);
    paging?.attached.add(dev);
    di.domain = domain;
    return null;
  }

  // ---- invalidation -------------------------------------------------------------------------

  /**
   * Invalidates what an unmap gathered: one IOTINVAL.VMA per 4 KiB page, or one for the whole
   * PSCID past the limit or when page-table pages were freed (the 1.0 specification has no
   * narrower way to drop cached non-leaf entries); then IOFENCE.C. Freed table pages go back to
   * the allocator only after the fence completed.
   */
  iotlbSync(domain: RiscvPagingDomain, gather: IotlbGather): void {
    if (domain.attached.size > 0) {
      const pages = gather.empty ? 0 : gather.end - gather.start;
      if (gather.freelist.length > 0 || pages >= IOTLB_INVAL_LIMIT_PAGES) {
        this.cmdq.submit(iotinvalVma({ pscid: domain.pscid }));
      } else {
        for (let p = gather.start; p < gather.end; p++) this.cmdq.submit(iotinvalVma({ pscid: domain.pscid, address: BigInt(p) << 12n }));
      }
      this.cmdq.sync(); // throws on timeout: the pages below are then leaked, never reused early
    }
    for (const page of gather.freelist) this.kernel.pages.freePages(page);
  }

  /**
   * Empties every IOMMU cache: device and process contexts, first- and second-stage
   * translations; returns the commands' names (for tools such as `explain --cold`).
   */
  invalidateAll(): string[] {
    this.cmdq.submit(iodirInvalDdt());
    this.cmdq.submit(iotinvalVma());
    this.cmdq.submit(iotinvalGvma());
    this.cmdq.sync();
    return ['IODIR.INVAL_DDT (all device ids)', 'IOTINVAL.VMA (all address spaces)', 'IOTINVAL.GVMA (all guests)', 'IOFENCE.C'];
  }

  /** Invalidates every translation of the domain's PSCID. */
  flushPscid(domain: RiscvPagingDomain): void {
    if (domain.attached.size === 0) return; // detaching already invalidated the PSCID
    this.cmdq.submit(iotinvalVma({ pscid: domain.pscid }));
    this.cmdq.sync();
  }

  // ---- faults -------------------------------------------------------------------------------

  /** One fault record: log it readably and route it to the owner of the device's domain. */
  handleFault(record: FaultRecord): void {
    const stats = this.stats.faults;
    stats.handled++;
    stats.byCause[record.cause] = (stats.byCause[record.cause] ?? 0) + 1;
    const dev = this.deviceFor(record.deviceId);
    if (dev === null) stats.unknownDevice++;
    this.recentFaults.push(record);
    if (this.recentFaults.length > RECENT_FAULTS) this.recentFaults.shift();
    const text = `fault: ${formatFaultRecord(record, dev?.name)}`;
    if (stats.handled <= FAULT_LOG_LIMIT) this.kernel.log.warn(this.name, text);
    else this.kernel.log.debug(this.name, text);
    const access = accessOf(record.ttyp);
    this.kernel.iommu.reportFault({
      device: dev,
      iova: record.iotval,
      ...access,
      privileged: record.priv,
      pasid: record.pv ? record.pid : null,
      cause: record.cause,
      reason: record.causeName,
      iommu: this.name,
    });
  }
}
