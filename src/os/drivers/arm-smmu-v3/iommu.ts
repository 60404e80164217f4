// One SMMUv3 as the driver keeps it once it is up (Linux struct arm_smmu_device): its features,
// Stream table and queues, the per-device state, STE and CD updates in the architected order,
// ATS, invalidations, and the handlers of events, page requests and global errors. It is the
// `IommuInstance` registered with the IOMMU core.

import type { DtNode } from '../../../formats/devicetree/tree.js';
import { PriResp, cmdCfgiAll, cmdCfgiCd, cmdCfgiSte, cmdPrefetchConfig, cmdPriResp, cmdResume, cmdTlbiEl2All, cmdTlbiNhAsid, cmdTlbiNsnhAll, cmdTlbiS12Vmall, commandName, type CommandWords } from '../../../formats/smmuv3/commands.js';
import { EVENT_DESCRIPTIONS, EventType, type PriEntryFields } from '../../../formats/smmuv3/records.js';
import { CD_DWORDS, S1Dss, STE_DWORDS } from '../../../formats/smmuv3/structures.js';
import { Cr0Layout, GerrorLayout, Reg } from '../../../formats/smmuv3/registers.js';
import { hex } from '../../../sim/u64.js';
import type { Device } from '../../driver-model/device.js';
import { DomainType, IommuDomain, type DeviceIommu, type IommuInstance, type IommuOps, type IotlbGather } from '../../core/types.js';
import { clearCd, cdUsed, s1Cd } from './cd.js';
import { CdTable } from './cd-table.js';
import type { CommandQueue } from './command-queue.js';
import type { SmmuContext } from './context.js';
import { blockedDomainOps, identityDomainOps, type SmmuPagingDomain } from './domains.js';
import { writeEntry, type EntryUpdate } from './entry-writer.js';
import { ArmSmmuV3Error } from './errors.js';
import { formatEvent, type SmmuEvent } from './event-record.js';
import { domainGranule, type SmmuV3Features } from './features.js';
import { IdAllocator } from '../../lib/id-allocator.js';
import type { InboundQueue } from './inbound-queue.js';
import type { InterruptPlan, MsiSetup } from './interrupts.js';
import { atcInvCommand, tlbiRangeCommands } from './invalidation.js';
import { readLe64, writeLe64 } from './le64.js';
import { SmmuMaster } from './master.js';
import { ArmSmmuV3Ops } from './ops.js';
import { writeRegSync } from './register-sync.js';
import type { ArmSmmuV3Options } from './options.js';
import { abortSte, bypassSte, cdTableSte, s2Ste, steUsed } from './ste.js';
import { bump, type SmmuV3Stats } from './stats.js';
import type { StreamTable } from './stream-table.js';

/** Event reports logged at warning level before the rest go to the debug level (a rate limit). */
const EVENT_LOG_LIMIT = 16;
/** Decoded events kept for reports. */
const RECENT_EVENTS = 64;
/** GERROR bits Linux handles (GERROR_ERR_MASK): all but bit 1 and those above SFM_ERR. */
const GERROR_ERR_MASK = 0x1fd;
const GERROR_NAMES: readonly [number, string][] = Object.entries(GerrorLayout).map(([name, f]) => [1 << f.lsb, name]);

export type StaticKind = 'bypass' | 'abort';

export interface ArmSmmuV3Parts {
  ctx: SmmuContext;
  node: DtNode;
  device: Device;
  features: SmmuV3Features;
  options: Required<ArmSmmuV3Options>;
  coherent: boolean;
  streamTable: StreamTable;
  cmdq: CommandQueue;
  eventq: InboundQueue<SmmuEvent>;
  priq: InboundQueue<PriEntryFields> | null;
  interrupts: InterruptPlan;
  /** Options from the node (Linux parse_driver_options): "hisilicon,broken-prefetch-cmd". */
  skipPrefetch: boolean;
}

export class ArmSmmuV3Device implements IommuInstance {
  readonly name: string;
  readonly node: DtNode;
  readonly device: Device;
  readonly ops: IommuOps;
  readonly ctx: SmmuContext;
  readonly stats: SmmuV3Stats;
  readonly features: SmmuV3Features;
  readonly options: Required<ArmSmmuV3Options>;
  /** `dma-coherent`: the SMMU's table walks and queue accesses snoop the CPU's caches. */
  readonly coherent: boolean;
  readonly streamTable: StreamTable;
  readonly cmdq: CommandQueue;
  readonly eventq: InboundQueue<SmmuEvent>;
  readonly priq: InboundQueue<PriEntryFields> | null;
  readonly interrupts: InterruptPlan;
  /** MSIs allocated for the sources (empty with wires). */
  msis: MsiSetup[] = [];
  readonly skipPrefetch: boolean;
  /** ASIDs from 1 (Linux keeps 0 unused) and VMIDs from 1 (0 goes to stage-1 STEs). */
  readonly asids: IdAllocator;
  readonly vmids: IdAllocator;
  readonly identityDomain: IommuDomain;
  readonly blockedDomain: IommuDomain;
  /** The master of each StreamID the driver knows (Linux smmu->streams). */
  readonly streams = new Map<number, SmmuMaster>();
  readonly masters = new Map<Device, SmmuMaster>();
  /** The most recent events, oldest first. */
  readonly recentEvents: SmmuEvent[] = [];

  constructor(p: ArmSmmuV3Parts) {
    this.ctx = p.ctx;
    this.name = p.ctx.name;
    this.stats = p.ctx.stats;
    this.node = p.node;
    this.device = p.device;
    this.features = p.features;
    this.options = p.options;
    this.coherent = p.coherent;
    this.streamTable = p.streamTable;
    this.cmdq = p.cmdq;
    this.eventq = p.eventq;
    this.priq = p.priq;
    this.interrupts = p.interrupts;
    this.skipPrefetch = p.skipPrefetch;
    this.asids = new IdAllocator(1, 2 ** p.features.asidBits - 1);
    this.vmids = new IdAllocator(1, 2 ** p.features.vmidBits - 1);
    this.identityDomain = new IommuDomain(DomainType.Identity, identityDomainOps, this, [], { start: 0n, end: (1n << 64n) - 1n }, `${this.name} identity`);
    this.blockedDomain = new IommuDomain(DomainType.Blocked, blockedDomainOps, this, [], { start: 0n, end: 0n }, `${this.name} blocked`);
    this.identityDomain.driverData = this;
    this.blockedDomain.driverData = this;
    this.ops = new ArmSmmuV3Ops(this);
    this.cmdq.onWait = () => this.checkGlobalErrors();
  }

  get kernel(): SmmuContext['kernel'] {
    return this.ctx.kernel;
  }

  /** Translation tables in the CPU's byte order (CD.ENDI / STE.S2ENDI as Linux sets them on big-endian kernels). */
  get bigEndian(): boolean {
    return this.kernel.memory.endianness === 'big';
  }

  /** The smallest page size of domains: the ATS Smallest Translation Unit (Linux __ffs(pgsize_bitmap)). */
  get stuLog2(): number {
    return domainGranule(this.features);
  }

  // ---- devices ------------------------------------------------------------------------------

  /** The core's state for `dev` when `dev` is behind this SMMU, else null. */
  deviceIommu(dev: Device): DeviceIommu | null {
    const info = this.kernel.iommu.deviceIommu(dev);
    return info !== null && info.fwspec.iommu === this ? info : null;
  }

  master(dev: Device): SmmuMaster | null {
    return this.masters.get(dev) ?? null;
  }

  /** The device that owns `sid`, if the driver knows one. */
  deviceFor(sid: number): Device | null {
    return this.streams.get(sid)?.dev ?? null;
  }

  /** Address of the STE of `sid` (null when its level-2 array was never created). */
  steAddress(sid: number): bigint | null {
    return this.streamTable.steAddress(sid);
  }

  /** The eight doublewords of the STE of `sid` as they are in memory. */
  readSte(sid: number): bigint[] | null {
    const a = this.steAddress(sid);
    return a === null ? null : readEntry(this, a, STE_DWORDS);
  }

  /** The CD of SubstreamID `ssid` of `dev` as it is in memory, or null when there is none. */
  readCd(dev: Device, ssid = 0): bigint[] | null {
    const a = this.master(dev)?.cdTable?.cdAddress(ssid) ?? null;
    return a === null ? null : readEntry(this, a, CD_DWORDS);
  }

  // ---- commands ----------------------------------------------------------------------------

  /** Submits `cmds` and a CMD_SYNC, and waits for it (Linux arm_smmu_cmdq_issue_cmdlist with sync). */
  issue(...cmds: CommandWords[]): void {
    for (const c of cmds) this.cmdq.submit(c);
    this.cmdq.sync();
  }

  // ---- STEs and CDs ------------------------------------------------------------------------

  /**
   * Writes `target` into the STE of every StreamID of `master` (Linux
   * arm_smmu_install_ste_for_dev), each step followed by CMD_CFGI_STE and CMD_SYNC; then asks
   * the SMMU to prefetch it (CMD_PREFETCH_CONFIG, no sync), as the STE is likely used soon.
   */
  installSte(master: SmmuMaster, target: readonly bigint[]): EntryUpdate[] {
    const out: EntryUpdate[] = [];
    for (const sid of master.streams) {
      const a = this.steAddress(sid);
      if (a === null) throw new ArmSmmuV3Error(`StreamID ${hex(sid)} has no STE`);
      out.push(
        writeEntry(
          {
            read: () => readEntry(this, a, STE_DWORDS),
            write: (i, v) => writeLe64(this.kernel.memory, a + BigInt(8 * i), v),
            used: steUsed,
            sync: () => this.issue(cmdCfgiSte(sid, true)),
          },
          target,
        ),
      );
      if (!this.skipPrefetch) this.cmdq.submit(cmdPrefetchConfig(sid));
    }
    return out;
  }

  /** The address of CD `ssid` of `master`, creating the CD table (and its level-2 table) as needed. */
  cdSlot(master: SmmuMaster, ssid: number): bigint {
    if (master.cdTable === null) master.cdTable = CdTable.create(this.ctx, master.ssidBits, this.features.twoLevelCdTable);
    // An invalid L1CD may be cached: invalidate it (leaf = 0) once it points at the new table.
    if (master.cdTable.ensureL2(ssid)) this.issue(...master.streams.map((sid) => cmdCfgiCd(sid, ssid, false)));
    const a = master.cdTable.cdAddress(ssid);
    if (a === null) throw new ArmSmmuV3Error(`SubstreamID ${ssid} is outside the CD table of ${master.dev.name}`);
    return a;
  }

  /** Writes CD `ssid` of `master`, each step followed by CMD_CFGI_CD for every StreamID and a CMD_SYNC. */
  writeCd(master: SmmuMaster, ssid: number, address: bigint, target: readonly bigint[]): EntryUpdate {
    return writeEntry(
      {
        read: () => readEntry(this, address, CD_DWORDS),
        write: (i, v) => writeLe64(this.kernel.memory, address + BigInt(8 * i), v),
        used: cdUsed,
        sync: () => this.issue(...master.streams.map((sid) => cmdCfgiCd(sid, ssid, true))),
      },
      target,
    );
  }

  /** Makes CD `ssid` invalid when the master has a CD table (Linux arm_smmu_clear_cd). */
  clearCd(master: SmmuMaster, ssid: number): void {
    const a = master.cdTable?.cdAddress(ssid) ?? null;
    if (a !== null) this.writeCd(master, ssid, a, clearCd());
  }

  // ---- attaching ---------------------------------------------------------------------------

  /**
   * Points `dev` at a paging domain (Linux arm_smmu_attach_dev): the master joins the domain's
   * invalidation list first; ATS is disabled in the function if it must go off; stage 1 writes
   * CD 0 and a CD-table STE (S1DSS = SSID0), stage 2 its STE and clears CD 0; then ATS is enabled
   * in the function when the new STE allows it, or the ATC invalidated when ATS stays on, and
   * the master leaves the old domain's list.
   */
  attachPaging(dev: Device, domain: IommuDomain, d: SmmuPagingDomain): string | null {
    const master = this.master(dev);
    if (master === null) return `${dev.name} is not behind ${this.name}`;
    if (d.iommu !== this) return `${domain.name} belongs to another SMMU`;
    try {
      const cd = d.stage === 1 ? this.cdSlot(master, 0) : null;
      const ats = this.atsWanted(master);
      d.masters.add(master);
      d.everAttached = true;
      if (!ats && master.atsEnabled) this.disableAts(master);
      const common = { attrTypesOverride: this.features.attrTypesOverride };
      if (cd !== null) {
        this.writeCd(master, 0, cd, s1Cd({ asid: d.asid, root: d.pgtable.rootAddress, control: d.pgtable.control, bigEndian: this.bigEndian, stall: this.stallForced }));
        const table = master.cdTable as CdTable;
        this.installSte(master, cdTableSte({ ...common, cdTable: table.baseAddress, s1fmt: table.s1fmt, s1cdmax: table.s1cdmax, s1dss: S1Dss.Substream0, ats, disableStalls: this.features.stallModel === 'stall-and-terminate' }));
      } else {
        this.installSte(master, s2Ste({ ...common, vmid: d.vmid, root: d.pgtable.rootAddress, control: d.pgtable.control, bigEndian: this.bigEndian, ats, stall: this.stallForced }));
        this.clearCd(master, 0);
      }
      this.commit(master, domain, d, ats);
    } catch (e) {
      if (e instanceof ArmSmmuV3Error) return e.message;
      throw e;
    }
    return null;
  }

  /** Points `dev` at the identity (bypass STE) or blocked (abort STE) domain, ATS off first. */
  attachStatic(dev: Device, domain: IommuDomain, kind: StaticKind): string | null {
    const master = this.master(dev);
    if (master === null) return `${dev.name} is not behind ${this.name}`;
    try {
      if (master.atsEnabled) this.disableAts(master);
      this.installSte(master, kind === 'bypass' ? bypassSte({ attrTypesOverride: this.features.attrTypesOverride }) : abortSte());
      this.commit(master, domain, null, false);
      this.clearCd(master, 0);
    } catch (e) {
      if (e instanceof ArmSmmuV3Error) return e.message;
      throw e;
    }
    return null;
  }

  /** The end of an attach (Linux arm_smmu_attach_commit). */
  private commit(master: SmmuMaster, domain: IommuDomain, paging: SmmuPagingDomain | null, ats: boolean): void {
    if (ats && !master.atsEnabled) this.enableAts(master);
    else if (ats && master.atsEnabled) this.atcInvMaster(master); // the translation changed under the ATC
    const old = master.paging;
    if (old !== null && old !== paging) old.masters.delete(master);
    master.paging = paging;
    master.domain = domain;
    master.atsEnabled = ats;
  }

  // ---- ATS ---------------------------------------------------------------------------------

  /** Whether `master` gets ATS with a paging domain (Linux arm_smmu_ats_supported). */
  private atsWanted(master: SmmuMaster): boolean {
    return this.features.ats && master.ats !== null;
  }

  /**
   * Turns ATS on in the function, once its STE has EATS set (Linux arm_smmu_enable_ats): STU is
   * the smallest page size. Linux first invalidates the whole ATC; a function whose ATS is off
   * holds no translations and is not required to complete Invalidation Requests (the endpoint
   * model drops them, which would stop the CMD_SYNC with CERROR_ATC_INV_SYNC), so that command
   * is left out.
   */
  private enableAts(master: SmmuMaster): void {
    const cap = master.ats;
    if (cap === null) return;
    cap.enable(this.stuLog2);
    this.stats.ats.enabled++;
    if (!cap.enabled) this.kernel.log.error(master.dev.name, `failed to enable ATS (STU ${2 ** (this.stuLog2 - 10)} KiB)`);
  }

  /**
   * Turns ATS off in the function before its STE stops allowing it (Linux arm_smmu_attach_prepare);
   * the function drops its ATC with Enable, so no ATC invalidation follows.
   */
  private disableAts(master: SmmuMaster): void {
    master.ats?.disable();
    master.atsEnabled = false;
    this.stats.ats.disabled++;
  }

  /** Invalidates the whole ATC of every StreamID of `master` (Linux arm_smmu_atc_inv_master). */
  private atcInvMaster(master: SmmuMaster): void {
    this.issue(...master.streams.map((sid) => atcInvCommand(sid, 0, 0)));
  }

  /**
   * Invalidates pages [startPage, endPage) (everything when empty) in the ATCs of the domain's
   * masters with ATS (Linux arm_smmu_atc_inv_domain). Called only once the TLB invalidation has
   * completed, so that no Translation Request can refill an ATC from a stale TLB entry (3.9.1).
   */
  private atcInvDomain(d: SmmuPagingDomain, startPage: number, endPage: number): void {
    if (!this.features.ats || d.atsMasters === 0) return;
    const cmds: CommandWords[] = [];
    for (const m of d.masters) if (m.atsEnabled) for (const sid of m.streams) cmds.push(atcInvCommand(sid, startPage, endPage));
    this.issue(...cmds);
  }

  // ---- invalidation ------------------------------------------------------------------------

  /**
   * Invalidates what an unmap gathered (Linux arm_smmu_iotlb_sync / arm_smmu_tlb_inv_range_domain):
   * TLB invalidation by address (see invalidation.ts), CMD_SYNC, then ATC invalidation and a
   * second CMD_SYNC. Freed table pages go back only once the SMMU can no longer walk them.
   */
  iotlbSync(d: SmmuPagingDomain, gather: IotlbGather): void {
    if (!gather.empty) {
      const cmds = tlbiRangeCommands({
        stage: d.stage,
        asid: d.asid,
        vmid: d.vmid,
        startPage: gather.start,
        endPage: gather.end,
        leaf: gather.freelist.length === 0,
        leafLog2: gather.minPageLog2 === gather.pageLog2 ? gather.pageLog2 : null,
        granuleLog2: d.pgtable.granuleLog2,
        ril: this.features.ril,
      });
      this.issue(...cmds); // throws on timeout: the pages below are then leaked, never reused early
      this.atcInvDomain(d, gather.start, gather.end);
    }
    for (const page of gather.freelist) this.kernel.pages.freePages(page);
  }

  /** Every translation of the domain (Linux arm_smmu_tlb_inv_context): its ASID or VMID, then the ATCs. */
  flushDomain(d: SmmuPagingDomain): void {
    this.issue(d.stage === 1 ? cmdTlbiNhAsid(0, d.asid) : cmdTlbiS12Vmall(d.vmid));
    this.atcInvDomain(d, 0, 0);
  }

  /**
   * Frees a domain's table and its ASID or VMID. Entries tagged with the id are invalidated
   * first if it was ever used, so that the domain that gets the id next finds none.
   */
  freeDomain(d: SmmuPagingDomain): void {
    if (d.everAttached) this.issue(d.stage === 1 ? cmdTlbiNhAsid(0, d.asid) : cmdTlbiS12Vmall(d.vmid));
    d.pgtable.free();
    (d.stage === 1 ? this.asids : this.vmids).free(d.id);
  }

  /**
   * Empties every SMMU cache: configuration (STEs, CDs) and TLBs of every address space, with
   * EL2 entries when the SMMU has the EL2 StreamWorld; returns the commands' names (for tools
   * such as `explain --cold`).
   */
  invalidateAll(): string[] {
    const cmds: CommandWords[] = [cmdCfgiAll(), ...(this.features.hyp ? [cmdTlbiEl2All()] : []), cmdTlbiNsnhAll()];
    this.issue(...cmds);
    return [...cmds.map((c) => commandName(c)), 'CMD_SYNC'];
  }

  // ---- interrupts --------------------------------------------------------------------------

  /** The Event queue's interrupt (Linux arm_smmu_evtq_thread). */
  eventqInterrupt(): void {
    bump(this.stats.interrupts, 'eventq');
    this.eventq.drain();
  }

  /** The PRI queue's interrupt (Linux arm_smmu_priq_thread). */
  priqInterrupt(): void {
    bump(this.stats.interrupts, 'priq');
    this.priq?.drain();
  }

  gerrorInterrupt(): void {
    bump(this.stats.interrupts, 'gerror');
    this.checkGlobalErrors();
  }

  /** One wire for everything (Linux arm_smmu_combined_irq_handler and its thread). */
  combinedInterrupt(): void {
    bump(this.stats.interrupts, 'combined');
    this.checkGlobalErrors();
    this.eventq.drain();
    this.priq?.drain();
  }

  /**
   * Handles the active global errors (Linux arm_smmu_gerror_handler): logs each, skips the
   * command that stopped the Command queue, disables the SMMU on service failure mode, and
   * acknowledges by writing GERROR's value to GERRORN. Returns whether any error was active.
   */
  checkGlobalErrors(): boolean {
    const { regs, kernel, name, stats } = this.ctx;
    const gerror = regs.read32(Reg.GERROR) >>> 0;
    const active = (gerror ^ (regs.read32(Reg.GERRORN) >>> 0)) & GERROR_ERR_MASK;
    if (active === 0) return false;
    const names = GERROR_NAMES.filter(([bit]) => (active & bit) !== 0).map(([, n]) => n);
    for (const n of names) bump(stats.globalErrors, n);
    kernel.log.warn(name, `global error reported (${hex(active, 8)}: ${names.join(' ')})`);
    if ((active & (1 << GerrorLayout.SFM_ERR.lsb)) !== 0) {
      kernel.log.error(name, 'the SMMU entered Service Failure Mode; disabling it');
      this.writeCr0(0);
    }
    if ((active & (1 << GerrorLayout.EVENTQ_ABT_ERR.lsb)) !== 0) kernel.log.error(name, 'Event queue write aborted: events may have been lost');
    if ((active & (1 << GerrorLayout.PRIQ_ABT_ERR.lsb)) !== 0) kernel.log.error(name, 'PRI queue write aborted: page requests may have been lost');
    if ((active & (1 << GerrorLayout.CMDQ_ERR.lsb)) !== 0) this.cmdq.skipError();
    regs.write32(Reg.GERRORN, gerror);
    return true;
  }

  /** Writes CR0 and waits for CR0ACK to match (Linux arm_smmu_write_reg_sync). */
  writeCr0(value: number): boolean {
    return writeRegSync(this.ctx, Reg.CR0, Reg.CR0ACK, value);
  }

  /** Whether the SMMU translates (CR0ACK.SMMUEN). */
  get enabled(): boolean {
    return (this.ctx.regs.read32(Reg.CR0ACK) & (1 << Cr0Layout.SMMUEN.lsb)) !== 0;
  }

  // ---- events ------------------------------------------------------------------------------

  /**
   * One event record: counted, logged readably, and routed to the owner of the device's domain
   * through the IOMMU core. Records of unknown types are logged raw. A stalled transaction
   * (stall model forced) is terminated with CMD_RESUME, as nothing here services stalls.
   */
  handleEvent(e: SmmuEvent): void {
    const s = this.stats.events;
    s.handled++;
    bump(s.byType, e.name);
    const dev = this.deviceFor(e.sid);
    if (dev === null) s.unknownDevice++;
    this.recentEvents.push(e);
    if (this.recentEvents.length > RECENT_EVENTS) this.recentEvents.shift();
    const log = this.kernel.log;
    if (!e.known) {
      s.unknownType++;
      log.error(this.name, `unknown event ${hex(e.type, 2)} received: ${e.raw.map((w) => hex(w, 16)).join(' ')}`);
      return;
    }
    const text = `event: ${formatEvent(e, dev?.name)}`;
    if (s.handled <= EVENT_LOG_LIMIT) log.warn(this.name, text);
    else log.debug(this.name, text);
    if (e.type !== EventType.E_PAGE_REQUEST) {
      this.kernel.iommu.reportFault({
        device: dev,
        iova: e.inputAddress,
        read: e.read,
        write: e.write,
        exec: e.exec,
        privileged: e.privileged,
        pasid: e.ssid,
        cause: e.type,
        reason: `${e.name}: ${EVENT_DESCRIPTIONS[e.type] ?? ''}`,
        iommu: this.name,
      });
    }
    if (e.stall) this.cmdq.submit(cmdResume(e.sid, e.stag, 'abort'));
  }

  /**
   * One PRI queue entry: logged, and the group answered ResponseFailure (4.5.2 Resp 0b00, Linux's
   * PRI_RESP_DENY) when it is complete (Linux arm_smmu_handle_ppr): this driver pages nothing in.
   */
  handlePageRequest(p: PriEntryFields): void {
    const s = this.stats.pageRequests;
    s.received++;
    const sid = Number(p.StreamID);
    const ssid = p.SSV === 1n ? Number(p.SubstreamID) : null;
    const perms = `${p.Read === 1n ? 'R' : ''}${p.Write === 1n ? 'W' : ''}${p.Exec === 1n ? 'X' : ''}`;
    this.kernel.log.info(
      this.name,
      `unexpected PRI request: StreamID ${hex(sid)}${ssid !== null ? ` SubstreamID ${hex(ssid)}` : ''} group ${Number(p.PRGIndex)}${p.Last === 1n ? ' (last)' : ''}, ${p.Priv === 1n ? '' : 'un'}privileged ${perms} at ${hex(p.PageAddr << 12n)}`,
    );
    if (p.Last === 1n) {
      this.cmdq.submit(cmdPriResp(sid, Number(p.PRGIndex), PriResp.ResponseFailure, ssid !== null ? { ssid } : {}));
      s.responded++;
    }
  }

  // ---- stalls ------------------------------------------------------------------------------

  /** IDR0.STALL_MODEL 0b10: faults always stall (Linux ARM_SMMU_FEAT_STALL_FORCE). */
  get stallForced(): boolean {
    return this.features.stallModel === 'stall-forced';
  }
}

/** Reads `count` little-endian doublewords at `address`. */
function readEntry(iommu: ArmSmmuV3Device, address: bigint, count: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) out.push(readLe64(iommu.kernel.memory, address + BigInt(8 * i)));
  return out;
}
