// Helpers shared by the directory, device-context, process-context and fault-queue
// conformance tests: a process-directory builder (software side, written independently of
// the model's walker), guest-physical table allocation, and small transaction helpers.

import { Reg } from '../../../src/formats/index.js';
import { RequestKind, type RequestKindValue, type TranslationResponse } from '../../../src/hw/riscv-iommu/index.js';
import type { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { PTE, RiscvIommuBench, type BenchOptions, type FaultRecord, type PageTable } from '../../support/riscv-iommu-bench.js';

export { RequestKind };

/** Transaction descriptions used throughout the tests. */
export interface Txn {
  kind?: RequestKindValue;
  write?: boolean;
  execute?: boolean;
  pid?: number;
  priv?: boolean;
  iova?: bigint;
}

export const DEFAULT_IOVA = 0x4000_1234n;

/** Sends one inbound transaction and returns a copy of the interesting response fields. */
export function send(b: RiscvIommuBench, did: number, t: Txn = {}): { status: number; cause: number; ppn: number; log2Pages: number; r: boolean; w: boolean; x: boolean; address: bigint } {
  const iova = t.iova ?? DEFAULT_IOVA;
  const rsp: TranslationResponse = b.iommu.translate({
    deviceId: did,
    iova,
    processId: t.pid,
    privileged: t.priv ?? false,
    kind: t.kind ?? RequestKind.Untranslated,
    write: t.write ?? false,
    execute: t.execute ?? false,
  });
  return {
    status: rsp.status,
    cause: rsp.cause,
    ppn: rsp.ppn,
    log2Pages: rsp.log2Pages,
    r: rsp.r,
    w: rsp.w,
    x: rsp.x,
    address: rsp.address(Number(iova & 0xfffn)),
  };
}

/** TTYP the specification assigns to a transaction (fault record "TTYP field encodings"). */
export function expectedTtyp(t: Txn): number {
  const kind = t.kind ?? RequestKind.Untranslated;
  if (kind === RequestKind.AtsTranslation) return 8;
  if (kind === RequestKind.Untranslated) return t.write ? 3 : t.execute ? 1 : 2;
  return t.write ? 7 : t.execute && t.pid !== undefined ? 5 : 6;
}

/** Every combination of transaction kind, access, process id and privilege. */
export function allTransactionTypes(): Txn[] {
  const out: Txn[] = [];
  for (const kind of [RequestKind.Untranslated, RequestKind.Translated, RequestKind.AtsTranslation]) {
    for (const write of [false, true]) {
      for (const execute of [false, true]) {
        for (const pid of [undefined, 0x99]) {
          for (const priv of [false, true]) out.push({ kind, write, execute, pid, priv });
        }
      }
    }
  }
  return out;
}

export function txnName(t: Txn): string {
  const kind = ['untranslated', 'translated', 'ATS'][t.kind ?? 0];
  return `${kind}${t.write ? ' write' : ' read'}${t.execute ? ' exec' : ''}${t.pid !== undefined ? ` pid=${t.pid}` : ''}${t.priv ? ' priv' : ''}`;
}

/** The fault record the specification requires for `t` with `cause` (iotval2 0). */
export function expectedRecord(did: number, t: Txn, cause: number, iotval2 = 0n): FaultRecord {
  const pv = t.pid !== undefined;
  return {
    cause,
    ttyp: expectedTtyp(t),
    did,
    pv,
    pid: pv ? (t.pid as number) : 0,
    priv: pv && (t.priv ?? false),
    iotval: t.iova ?? DEFAULT_IOVA,
    iotval2,
    reserved: 0n,
  };
}

/** A bench in a directory mode with the queues on. */
export function bench(o: BenchOptions = {}): RiscvIommuBench {
  return new RiscvIommuBench({ mode: '3LVL', ...o });
}

export function fqcsr(b: RiscvIommuBench): { fqen: boolean; fie: boolean; fqmf: boolean; fqof: boolean; fqon: boolean; busy: boolean } {
  const v = b.read32(Reg.fqcsr);
  return { fqen: (v & 1) !== 0, fie: (v & 2) !== 0, fqmf: (v & 0x100) !== 0, fqof: (v & 0x200) !== 0, fqon: (v & 0x10000) !== 0, busy: (v & 0x20000) !== 0 };
}

export function fip(b: RiscvIommuBench): boolean {
  return (b.read32(Reg.ipsr) & 2) !== 0;
}

// ---- second-stage helpers ---------------------------------------------------------------

/** Allocates guest-physical pages for tables, each backed by a fresh SPA page mapped in `gStage`. */
export class GuestTableAllocator {
  private nextGpa: bigint;
  private readonly spaOf = new Map<bigint, bigint>();

  constructor(
    private readonly b: RiscvIommuBench,
    private readonly gStage: PageTable,
    gpaBase: bigint,
  ) {
    this.nextGpa = gpaBase;
  }

  /** A new table page: returns its GPA. `map` false leaves the GPA unmapped in the second stage. */
  alloc(map = true): bigint {
    const gpa = this.nextGpa;
    this.nextGpa += 4096n;
    const spa = this.b.alloc.alloc();
    if (map) this.gStage.map(gpa, spa, { flags: PTE.R | PTE.W | PTE.U | PTE.A | PTE.D });
    this.spaOf.set(gpa, spa);
    return gpa;
  }

  toSpa(gpa: bigint): bigint {
    const spa = this.spaOf.get(gpa & ~0xfffn);
    if (spa === undefined) throw new Error(`GPA ${gpa.toString(16)} is not a table page`);
    return spa | (gpa & 0xfffn);
  }
}

// ---- process directory, as software builds it -------------------------------------------

export type PdtModeName = 'PD8' | 'PD17' | 'PD20';
export const PDTP_MODE: Record<PdtModeName | 'Bare', number> = { Bare: 0, PD8: 1, PD17: 2, PD20: 3 };
const PDT_LEVELS: Record<PdtModeName, number> = { PD8: 1, PD17: 2, PD20: 3 };

export interface ProcessContextFields {
  v?: boolean;
  ens?: boolean;
  sum?: boolean;
  pscid?: number;
  /** Raw bits OR-ed into PC.ta (reserved bits). */
  taRaw?: bigint;
  fscMode?: number;
  /** Root of the first-stage table (byte address, as the IOMMU sees it). */
  fscRoot?: bigint;
  /** Raw bits OR-ed into PC.fsc. */
  fscRaw?: bigint;
}

/**
 * A process directory table. Level numbering follows the specification: level 0 holds the
 * 16-byte process contexts (PDI[0]), level 1 the PDI[1] non-leaf entries, level 2 PDI[2].
 */
export class ProcessDirectory {
  readonly root: bigint;
  readonly levels: number;

  constructor(
    private readonly memory: PhysicalMemory,
    readonly mode: PdtModeName,
    private readonly allocTable: () => bigint,
    private readonly toSpa: (a: bigint) => bigint = (a) => a,
    private readonly bigEndian = false,
  ) {
    this.levels = PDT_LEVELS[mode];
    this.root = allocTable();
  }

  /** Byte offset of the entry for `pid` in a table of `level`. */
  static entryOffset(pid: number, level: number): bigint {
    if (level === 0) return BigInt(pid & 0xff) * 16n;
    if (level === 1) return BigInt((pid >>> 8) & 0x1ff) * 8n;
    return BigInt((pid >>> 17) & 0x7) * 8n;
  }

  /** Address (as the IOMMU sees it) of the entry for `pid` at `level`, creating tables above. */
  entryAddress(pid: number, level: number): bigint {
    let table = this.root;
    for (let l = this.levels - 1; l > level; l--) {
      const slot = table + ProcessDirectory.entryOffset(pid, l);
      let e = this.read(slot);
      if ((e & 1n) === 0n) {
        const next = this.allocTable();
        e = ((next >> 12n) << 10n) | 1n;
        this.write(slot, e);
      }
      table = ((e >> 10n) & ((1n << 44n) - 1n)) << 12n;
    }
    return table + ProcessDirectory.entryOffset(pid, level);
  }

  /** Writes the process context of `pid`; returns its address (as the IOMMU sees it). */
  setProcessContext(pid: number, f: ProcessContextFields): bigint {
    const addr = this.entryAddress(pid, 0);
    const ta = (f.v ?? true ? 1n : 0n) | (f.ens ? 2n : 0n) | (f.sum ? 4n : 0n) | (BigInt(f.pscid ?? 0) << 12n) | (f.taRaw ?? 0n);
    const fsc = (BigInt(f.fscMode ?? 0) << 60n) | ((f.fscRoot ?? 0n) >> 12n) | (f.fscRaw ?? 0n);
    this.write(addr, ta);
    this.write(addr + 8n, fsc);
    return addr;
  }

  read(addrAsSeen: bigint): bigint {
    const v = this.memory.read(this.toSpa(addrAsSeen), 8);
    return this.bigEndian ? bswap64(v) : v;
  }

  write(addrAsSeen: bigint, value: bigint): void {
    this.memory.write(this.toSpa(addrAsSeen), 8, this.bigEndian ? bswap64(value) : value);
  }

  /** The SPA behind an address as the IOMMU sees it. */
  spa(addrAsSeen: bigint): bigint {
    return this.toSpa(addrAsSeen);
  }
}

function bswap64(v: bigint): bigint {
  let out = 0n;
  for (let i = 0n; i < 8n; i++) out = (out << 8n) | ((v >> (8n * i)) & 0xffn);
  return out;
}

/** A process directory in supervisor-physical memory. */
export function processDirectory(b: RiscvIommuBench, mode: PdtModeName, bigEndian = false): ProcessDirectory {
  return new ProcessDirectory(b.memory, mode, () => b.alloc.alloc(), (a) => a, bigEndian);
}

/** A process directory in guest-physical memory (the second stage maps its pages). */
export function guestProcessDirectory(b: RiscvIommuBench, mode: PdtModeName, guest: GuestTableAllocator, mapPage: (index: number) => boolean = () => true): ProcessDirectory {
  let n = 0;
  return new ProcessDirectory(
    b.memory,
    mode,
    () => guest.alloc(mapPage(n++)),
    (a) => guest.toSpa(a),
  );
}

// ---- page tables for contexts that must be accepted ---------------------------------------

/** The output address DEFAULT_IOVA's page is mapped to by `mappedSecondStage` / `mappedFirstStage`. */
export const MAPPED_SPA = 0x9000_0000n;

export const PAGING_MODE_ENCODING: Record<string, number> = { Sv32: 8, Sv39: 8, Sv48: 9, Sv57: 10, Sv32x4: 8, Sv39x4: 8, Sv48x4: 9, Sv57x4: 10 };

/** A table of `mode` in SPA memory mapping the page of `iova` to MAPPED_SPA (4 KiB page). */
export function mappedTable(b: RiscvIommuBench, mode: 'Sv32' | 'Sv39' | 'Sv48' | 'Sv57' | 'Sv32x4' | 'Sv39x4' | 'Sv48x4' | 'Sv57x4', iova = DEFAULT_IOVA): { mode: number; ppn: bigint; table: PageTable } {
  const table = b.pageTable(mode);
  table.map(iova & ~0xfffn, MAPPED_SPA);
  return { mode: PAGING_MODE_ENCODING[mode], ppn: table.root, table };
}
