// A test bench for the RISC-V IOMMU model that drives it as a verification engineer drives
// silicon: only through its registers and memory. It builds device directories, contexts and
// page tables in memory (builder code deliberately separate from the model's walkers), runs
// commands through the command queue, and reads fault and page-request records back.

import {
  DdtpLayout,
  FaultRecordWord0,
  PageRequestRecordWord0,
  QueueBaseLayout,
  Reg,
  TrReqCtlLayout,
  TrResponseLayout,
  decode,
  encode,
  type CommandWords,
} from '../../src/formats/index.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { RiscvIommu, type RiscvIommuConfig } from '../../src/hw/riscv-iommu/index.js';

export type DirectoryMode = 'Off' | 'Bare' | '1LVL' | '2LVL' | '3LVL';
const MODE_VALUE: Record<DirectoryMode, number> = { Off: 0, Bare: 1, '1LVL': 2, '2LVL': 3, '3LVL': 4 };

/** A bump allocator of physical pages, zeroed on allocation. */
export class PageAllocator {
  constructor(
    private readonly memory: PhysicalMemory,
    private next: bigint,
  ) {}

  /** Allocates `pages` contiguous 4 KiB pages aligned to `align` bytes; returns the address. */
  alloc(pages = 1, align = 4096n): bigint {
    this.next = (this.next + align - 1n) & ~(align - 1n);
    const addr = this.next;
    this.next += BigInt(pages) * 4096n;
    for (let i = 0n; i < BigInt(pages) * 4096n; i += 8n) this.memory.write(addr + i, 8, 0n);
    return addr;
  }
}

// ---- page tables, as software builds them --------------------------------------------

export type PagingModeName = 'Sv32' | 'Sv39' | 'Sv48' | 'Sv57' | 'Sv32x4' | 'Sv39x4' | 'Sv48x4' | 'Sv57x4';

interface ModeInfo {
  levels: number;
  pteSize: 4 | 8;
  vpnBits: number;
  x4: boolean;
}

export const MODES: Record<PagingModeName, ModeInfo> = {
  Sv32: { levels: 2, pteSize: 4, vpnBits: 10, x4: false },
  Sv39: { levels: 3, pteSize: 8, vpnBits: 9, x4: false },
  Sv48: { levels: 4, pteSize: 8, vpnBits: 9, x4: false },
  Sv57: { levels: 5, pteSize: 8, vpnBits: 9, x4: false },
  Sv32x4: { levels: 2, pteSize: 4, vpnBits: 10, x4: true },
  Sv39x4: { levels: 3, pteSize: 8, vpnBits: 9, x4: true },
  Sv48x4: { levels: 4, pteSize: 8, vpnBits: 9, x4: true },
  Sv57x4: { levels: 5, pteSize: 8, vpnBits: 9, x4: true },
};

export const PTE = { V: 1n, R: 2n, W: 4n, X: 8n, U: 16n, G: 32n, A: 64n, D: 128n } as const;
export const RWX_UAD = PTE.V | PTE.R | PTE.W | PTE.X | PTE.U | PTE.A | PTE.D;

export interface MapOptions {
  /** Leaf level: 0 = 4 KiB page, 1 = megapage, ... */
  level?: number;
  /** Permission and status bits (V is added). Default: R W X U A D. */
  flags?: bigint;
  /** Extra high bits (PBMT, N, reserved) OR-ed into the PTE. */
  extra?: bigint;
  /** For tables that live in guest-physical memory: translate a table GPA to its SPA. */
}

/**
 * A radix page table in memory. For a first stage under an active second stage, tables are
 * placed in guest-physical memory: `tableAddress` maps a table's GPA to where it really is.
 */
export class PageTable {
  readonly root: bigint; // address of the root table as the IOMMU will see it (GPA or SPA)
  private readonly m: ModeInfo;

  constructor(
    private readonly memory: PhysicalMemory,
    readonly mode: PagingModeName,
    private readonly allocTable: (x4Root: boolean) => bigint,
    private readonly toSpa: (a: bigint) => bigint = (a) => a,
    private readonly bigEndian = false,
  ) {
    this.m = MODES[mode];
    this.root = allocTable(this.m.x4);
  }

  /** Maps `va` (a leaf of the given level) to `pa`. Returns the address (as stored) of the leaf PTE. */
  map(va: bigint, pa: bigint, o: MapOptions = {}): bigint {
    const level = o.level ?? 0;
    const flags = (o.flags ?? RWX_UAD) | PTE.V;
    const leaf = this.ptePpnBits(pa >> 12n) | flags | (o.extra ?? 0n);
    return this.install(va, level, leaf);
  }

  /** Writes an arbitrary PTE value at the given level for `va` (creating tables above it). */
  setPte(va: bigint, level: number, value: bigint): bigint {
    return this.install(va, level, value);
  }

  /** Address (as the IOMMU sees it) of the PTE for `va` at `level`, creating tables above. */
  pteAddress(va: bigint, level: number): bigint {
    let table = this.root;
    for (let l = this.m.levels - 1; l > level; l--) {
      const slot = table + this.index(va, l) * BigInt(this.m.pteSize);
      let pte = this.read(slot);
      if ((pte & 1n) === 0n || (pte & 0xen) !== 0n) {
        const next = this.allocTable(false);
        pte = this.ptePpnBits(next >> 12n) | PTE.V;
        this.write(slot, pte);
      }
      table = this.pteToAddr(pte);
    }
    return table + this.index(va, level) * BigInt(this.m.pteSize);
  }

  /**
   * Walks the table as software would, without changing it: the leaf PTE for `va`, its level,
   * its address (as seen) and the translated address; null when `va` is not mapped.
   */
  lookup(va: bigint): { pte: bigint; level: number; pteAddress: bigint; address: bigint } | null {
    let table = this.root;
    for (let level = this.m.levels - 1; level >= 0; level--) {
      const slot = table + this.index(va, level) * BigInt(this.m.pteSize);
      const pte = this.read(slot);
      if ((pte & PTE.V) === 0n) return null;
      if ((pte & (PTE.R | PTE.X)) !== 0n) {
        const size = 1n << BigInt(12 + level * this.m.vpnBits);
        return { pte, level, pteAddress: slot, address: (this.pteToAddr(pte) & ~(size - 1n)) | (va & (size - 1n)) };
      }
      table = this.pteToAddr(pte);
    }
    return null;
  }

  read(addrAsSeen: bigint): bigint {
    const spa = this.toSpa(addrAsSeen);
    let v = this.memory.read(spa, this.m.pteSize);
    if (this.bigEndian) v = this.m.pteSize === 8 ? bswap64(v) : bswap32n(v);
    return v;
  }

  write(addrAsSeen: bigint, value: bigint): void {
    const spa = this.toSpa(addrAsSeen);
    const v = this.bigEndian ? (this.m.pteSize === 8 ? bswap64(value) : bswap32n(value)) : value;
    this.memory.write(spa, this.m.pteSize, v);
  }

  private install(va: bigint, level: number, value: bigint): bigint {
    const addr = this.pteAddress(va, level);
    this.write(addr, value);
    return addr;
  }

  private index(va: bigint, level: number): bigint {
    const bitsAt = this.m.vpnBits + (this.m.x4 && level === this.m.levels - 1 ? 2 : 0);
    return (va >> BigInt(12 + level * this.m.vpnBits)) & ((1n << BigInt(bitsAt)) - 1n);
  }

  private ptePpnBits(ppn: bigint): bigint {
    return ppn << 10n;
  }

  private pteToAddr(pte: bigint): bigint {
    const ppnBits = this.m.pteSize === 8 ? 44n : 22n;
    return ((pte >> 10n) & ((1n << ppnBits) - 1n)) << 12n;
  }
}

function bswap32n(v: bigint): bigint {
  let out = 0n;
  for (let i = 0n; i < 4n; i++) out = (out << 8n) | ((v >> (8n * i)) & 0xffn);
  return out;
}

function bswap64(v: bigint): bigint {
  let out = 0n;
  for (let i = 0n; i < 8n; i++) out = (out << 8n) | ((v >> (8n * i)) & 0xffn);
  return out;
}

// ---- device contexts --------------------------------------------------------------------

export interface DeviceContextFields {
  tc?: Partial<Record<'V' | 'EN_ATS' | 'EN_PRI' | 'T2GPA' | 'DTF' | 'PDTV' | 'PRPR' | 'GADE' | 'SADE' | 'DPE' | 'SBE' | 'SXL', boolean>>;
  /** Raw extra bits OR-ed into tc (to set reserved or custom bits). */
  tcRaw?: bigint;
  iohgatp?: { mode: number; ppn?: bigint; gscid?: number };
  ta?: { pscid?: number; rcid?: number; mcid?: number; raw?: bigint };
  fsc?: { mode: number; ppn?: bigint; raw?: bigint };
  msiptp?: { mode: number; ppn?: bigint; raw?: bigint };
  msiAddrMask?: bigint;
  msiAddrPattern?: bigint;
  reserved7?: bigint;
}

const TC_BITS = { V: 0, EN_ATS: 1, EN_PRI: 2, T2GPA: 3, DTF: 4, PDTV: 5, PRPR: 6, GADE: 7, SADE: 8, DPE: 9, SBE: 10, SXL: 11 } as const;

export function encodeDeviceContext(f: DeviceContextFields): bigint[] {
  let tc = f.tcRaw ?? 0n;
  const tcFlags = { V: true, ...f.tc };
  for (const [name, on] of Object.entries(tcFlags)) if (on) tc |= 1n << BigInt(TC_BITS[name as keyof typeof TC_BITS]);
  const g = f.iohgatp ?? { mode: 0 };
  const iohgatp = (BigInt(g.mode) << 60n) | (BigInt(g.gscid ?? 0) << 44n) | ((g.ppn ?? 0n) >> 12n);
  const ta = (f.ta?.raw ?? 0n) | (BigInt(f.ta?.pscid ?? 0) << 12n) | (BigInt(f.ta?.rcid ?? 0) << 40n) | (BigInt(f.ta?.mcid ?? 0) << 52n);
  const s = f.fsc ?? { mode: 0 };
  const fsc = (s.raw ?? 0n) | (BigInt(s.mode) << 60n) | ((s.ppn ?? 0n) >> 12n);
  const m = f.msiptp ?? { mode: 0 };
  const msiptp = (m.raw ?? 0n) | (BigInt(m.mode) << 60n) | ((m.ppn ?? 0n) >> 12n);
  return [tc, iohgatp, ta, fsc, msiptp, f.msiAddrMask ?? 0n, f.msiAddrPattern ?? 0n, f.reserved7 ?? 0n];
}

// ---- the bench ---------------------------------------------------------------------------

export interface FaultRecord {
  cause: number;
  ttyp: number;
  did: number;
  pv: boolean;
  pid: number;
  priv: boolean;
  iotval: bigint;
  iotval2: bigint;
  reserved: bigint;
}

export interface DebugResult {
  fault: boolean;
  ppn: bigint;
  s: boolean;
  pbmt: number;
  /** Translated address of the requested page (PPN with the size encoding removed). */
  address: bigint;
  /** Size of the translation range in bytes. */
  size: bigint;
}

export interface BenchOptions extends Omit<RiscvIommuConfig, 'memory'> {
  memory?: PhysicalMemory;
  /** Queue sizes in entries (powers of two); 0 leaves a queue off. */
  cqEntries?: number;
  fqEntries?: number;
  pqEntries?: number;
  /** Start the bench in this directory mode (after enabling the queues). */
  mode?: DirectoryMode;
  /** First address handed out by the page allocator. */
  allocBase?: bigint;
}

export class RiscvIommuBench {
  readonly memory: PhysicalMemory;
  readonly iommu: RiscvIommu;
  readonly alloc: PageAllocator;
  ddtRoot = 0n;
  cqBase = 0n;
  fqBase = 0n;
  pqBase = 0n;
  cqEntries: number;
  fqEntries: number;
  pqEntries: number;

  constructor(options: BenchOptions = {}) {
    this.memory = options.memory ?? new PhysicalMemory();
    this.iommu = new RiscvIommu({ ...options, memory: this.memory });
    this.alloc = new PageAllocator(this.memory, options.allocBase ?? 0x1000_0000n);
    this.cqEntries = options.cqEntries ?? 64;
    this.fqEntries = options.fqEntries ?? 64;
    this.pqEntries = options.pqEntries ?? (this.iommu.state.ats ? 64 : 0);
    if (this.cqEntries > 0) this.enableCommandQueue(this.cqEntries);
    if (this.fqEntries > 0) this.enableFaultQueue(this.fqEntries);
    if (this.pqEntries > 0) this.enablePageRequestQueue(this.pqEntries);
    if (options.mode !== undefined) this.setMode(options.mode);
  }

  // ---- registers --------------------------------------------------------------------------

  read32(offset: number): number {
    return Number(this.iommu.mmio.read(offset, 4));
  }

  write32(offset: number, value: number | bigint): void {
    this.iommu.mmio.write(offset, 4, BigInt(value));
  }

  read64(offset: number): bigint {
    return this.iommu.mmio.read(offset, 8);
  }

  write64(offset: number, value: bigint): void {
    this.iommu.mmio.write(offset, 8, value);
  }

  enableCommandQueue(entries: number): void {
    const bytes = BigInt(entries * 16);
    this.cqBase = this.alloc.alloc(Math.max(1, Number(bytes / 4096n)), bytes > 4096n ? bytes : 4096n);
    this.write64(Reg.cqb, encode(QueueBaseLayout, { LOG2SZ_1: Math.log2(entries) - 1, PPN: this.cqBase >> 12n }));
    this.write32(Reg.cqt, 0);
    this.write32(Reg.cqcsr, 0b11); // cqen, cie
    this.cqEntries = entries;
  }

  enableFaultQueue(entries: number): void {
    const bytes = BigInt(entries * 32);
    this.fqBase = this.alloc.alloc(Math.max(1, Number(bytes / 4096n)), bytes > 4096n ? bytes : 4096n);
    this.write64(Reg.fqb, encode(QueueBaseLayout, { LOG2SZ_1: Math.log2(entries) - 1, PPN: this.fqBase >> 12n }));
    this.write32(Reg.fqh, 0);
    this.write32(Reg.fqcsr, 0b11); // fqen, fie
    this.fqEntries = entries;
  }

  enablePageRequestQueue(entries: number): void {
    const bytes = BigInt(entries * 16);
    this.pqBase = this.alloc.alloc(Math.max(1, Number(bytes / 4096n)), bytes > 4096n ? bytes : 4096n);
    this.write64(Reg.pqb, encode(QueueBaseLayout, { LOG2SZ_1: Math.log2(entries) - 1, PPN: this.pqBase >> 12n }));
    this.write32(Reg.pqh, 0);
    this.write32(Reg.pqcsr, 0b11);
    this.pqEntries = entries;
  }

  /** Sets the directory mode; allocates the root table for directory modes. */
  setMode(mode: DirectoryMode): void {
    if (mode === '1LVL' || mode === '2LVL' || mode === '3LVL') {
      if (this.ddtRoot === 0n) this.ddtRoot = this.alloc.alloc();
      this.write64(Reg.ddtp, encode(DdtpLayout, { iommu_mode: MODE_VALUE[mode], PPN: this.ddtRoot >> 12n }));
    } else {
      this.write64(Reg.ddtp, encode(DdtpLayout, { iommu_mode: MODE_VALUE[mode], PPN: this.ddtRoot >> 12n }));
    }
  }

  get extended(): boolean {
    return this.iommu.state.msiFlat;
  }

  /** Address of the device context of `did`, creating non-leaf directory tables as needed. */
  dcAddress(did: number): bigint {
    const mode = this.iommu.state.mode;
    const levels = mode - 1;
    const lowBits = this.extended ? 6 : 7;
    const dcSize = this.extended ? 64n : 32n;
    let table = this.ddtRoot;
    for (let level = levels - 1; level > 0; level--) {
      const index = BigInt(level === 1 ? (did >>> lowBits) & 0x1ff : did >>> (lowBits + 9));
      const slot = table + index * 8n;
      let e = this.readStruct(slot);
      if ((e & 1n) === 0n) {
        const next = this.alloc.alloc();
        e = ((next >> 12n) << 10n) | 1n;
        this.writeStruct(slot, e);
      }
      table = ((e >> 10n) & ((1n << 44n) - 1n)) << 12n;
    }
    return table + BigInt(did & (this.extended ? 0x3f : 0x7f)) * dcSize;
  }

  /** Writes the device context of `did` (directory tables created as needed); returns its address. */
  setDeviceContext(did: number, fields: DeviceContextFields): bigint {
    const addr = this.dcAddress(did);
    const words = encodeDeviceContext(fields);
    const n = this.extended ? 8 : 4;
    for (let i = 0; i < n; i++) this.writeStruct(addr + BigInt(i * 8), words[i]);
    return addr;
  }

  /**
   * Writes the process context of `pid` in a single-level (PD8) process directory whose root
   * is at `pdtRoot` (as the IOMMU sees it; `toSpa` maps a guest-physical PDT address to its
   * SPA). `sbe` selects big-endian (DC.tc.SBE). Returns the context's address as seen.
   */
  setProcessContextPd8(
    pdtRoot: bigint,
    pid: number,
    f: { ens?: boolean; sum?: boolean; pscid?: number; fscMode?: number; fscPpn?: bigint; valid?: boolean },
    o: { sbe?: boolean; toSpa?: (a: bigint) => bigint } = {},
  ): bigint {
    const addr = pdtRoot + BigInt((pid & 0xff) * 16);
    const ta = (f.valid === false ? 0n : 1n) | (f.ens ? 2n : 0n) | (f.sum ? 4n : 0n) | (BigInt(f.pscid ?? 0) << 12n);
    const fsc = (BigInt(f.fscMode ?? 0) << 60n) | ((f.fscPpn ?? 0n) >> 12n);
    const spa = (o.toSpa ?? ((a: bigint) => a))(addr);
    this.memory.write(spa, 8, o.sbe ? bswap64(ta) : ta);
    this.memory.write(spa + 8n, 8, o.sbe ? bswap64(fsc) : fsc);
    return addr;
  }

  /**
   * Makes sure `did` has a valid device context with EN_ATS (creating a 3-level directory if
   * the IOMMU is Off or Bare): ATS translation requests and Invalidation Completions from a
   * device are inbound transactions that need one.
   */
  ensureAtsDevice(did: number): void {
    if (this.iommu.state.mode < 2) this.setMode('3LVL');
    if ((this.readStruct(this.dcAddress(did)) & 1n) === 0n) this.setDeviceContext(did, { tc: { EN_ATS: true } });
  }

  /** Device-directory (fctl.BE) byte order for a doubleword. */
  readStruct(addr: bigint): bigint {
    const v = this.memory.read(addr, 8);
    return this.iommu.state.be ? bswap64(v) : v;
  }

  writeStruct(addr: bigint, value: bigint): void {
    this.memory.write(addr, 8, this.iommu.state.be ? bswap64(value) : value);
  }

  /** A page table whose tables live directly in supervisor-physical memory. */
  pageTable(mode: PagingModeName, bigEndian = false): PageTable {
    return new PageTable(this.memory, mode, (x4) => this.alloc.alloc(x4 ? 4 : 1, x4 ? 16384n : 4096n), (a) => a, bigEndian);
  }

  /**
   * A first-stage page table living in guest-physical memory: each table page gets a GPA
   * from `gpaBase` upwards and is mapped in `gStage` (R/W, U, A, D) to a fresh SPA page.
   */
  guestPageTable(mode: PagingModeName, gStage: PageTable, gpaBase: bigint, bigEndian = false): PageTable {
    let nextGpa = gpaBase;
    const gpaToSpa = new Map<bigint, bigint>();
    const alloc = (): bigint => {
      const gpa = nextGpa;
      nextGpa += 4096n;
      const spa = this.alloc.alloc();
      gStage.map(gpa, spa, { flags: PTE.R | PTE.W | PTE.U | PTE.A | PTE.D });
      gpaToSpa.set(gpa, spa);
      return gpa;
    };
    const toSpa = (a: bigint): bigint => {
      const spa = gpaToSpa.get(a & ~0xfffn);
      if (spa === undefined) throw new Error(`GPA ${a.toString(16)} is not a page-table page`);
      return spa | (a & 0xfffn);
    };
    return new PageTable(this.memory, mode, () => alloc(), toSpa, bigEndian);
  }

  // ---- command queue ------------------------------------------------------------------------

  /** Appends commands at cqt and rings the doorbell (the model runs them before returning). */
  submit(...commands: CommandWords[]): void {
    let tail = this.read32(Reg.cqt);
    for (const [w0, w1] of commands) {
      const slot = this.cqBase + BigInt(tail * 16);
      this.writeStruct(slot, w0);
      this.writeStruct(slot + 8n, w1);
      tail = (tail + 1) % this.cqEntries;
    }
    this.write32(Reg.cqt, tail);
  }

  get cqcsr(): number {
    return this.read32(Reg.cqcsr);
  }

  // ---- fault queue --------------------------------------------------------------------------

  /** Reads and pops every pending fault record. */
  faults(): FaultRecord[] {
    const out: FaultRecord[] = [];
    let head = this.read32(Reg.fqh);
    const tail = this.read32(Reg.fqt);
    while (head !== tail) {
      const a = this.fqBase + BigInt(head * 32);
      const w0 = decode(FaultRecordWord0, this.readStruct(a));
      out.push({
        cause: Number(w0.CAUSE),
        ttyp: Number(w0.TTYP),
        did: Number(w0.DID),
        pv: w0.PV === 1n,
        pid: Number(w0.PID),
        priv: w0.PRIV === 1n,
        reserved: this.readStruct(a + 8n),
        iotval: this.readStruct(a + 16n),
        iotval2: this.readStruct(a + 24n),
      });
      head = (head + 1) % this.fqEntries;
    }
    this.write32(Reg.fqh, head);
    return out;
  }

  /** Pops page-request records. */
  pageRequests(): { did: number; pv: boolean; pid: number; priv: boolean; exec: boolean; payload: bigint }[] {
    const out = [];
    let head = this.read32(Reg.pqh);
    const tail = this.read32(Reg.pqt);
    while (head !== tail) {
      const a = this.pqBase + BigInt(head * 16);
      const w0 = decode(PageRequestRecordWord0, this.readStruct(a));
      out.push({ did: Number(w0.DID), pv: w0.PV === 1n, pid: Number(w0.PID), priv: w0.PRIV === 1n, exec: w0.EXEC === 1n, payload: this.readStruct(a + 8n) });
      head = (head + 1) % this.pqEntries;
    }
    this.write32(Reg.pqh, head);
    return out;
  }

  // ---- debug translation interface -----------------------------------------------------------

  debugTranslate(did: number, iova: bigint, o: { pid?: number; priv?: boolean; exe?: boolean; write?: boolean } = {}): DebugResult {
    this.write64(Reg.tr_req_iova, iova);
    const ctl = encode(TrReqCtlLayout, {
      Go_Busy: 1,
      Priv: o.priv ?? false,
      Exe: o.exe ?? false,
      NW: !(o.write ?? false),
      PID: o.pid ?? 0,
      PV: o.pid !== undefined,
      DID: did,
    });
    this.write64(Reg.tr_req_ctl, ctl);
    const busy = this.read64(Reg.tr_req_ctl) & 1n;
    if (busy !== 0n) throw new Error('tr_req_ctl.Go/Busy still set after the write returned');
    const r = decode(TrResponseLayout, this.read64(Reg.tr_response));
    let size = 4096n;
    let address = r.PPN << 12n;
    if (r.S === 1n) {
      let x = 0n;
      while (((r.PPN >> x) & 1n) === 1n) x++;
      size = 1n << (x + 1n + 12n);
      address = (r.PPN << 12n) & ~(size - 1n);
    }
    return { fault: r.fault === 1n, ppn: r.PPN, s: r.S === 1n, pbmt: Number(r.PBMT), address, size };
  }
}
