// A verification bench for the SMMUv3 model: it drives the model only through its registers,
// memory and inbound interfaces, as software and devices would. It allocates memory, builds
// Stream tables, CDs and VMSAv8-64 page tables by hand (with the formats' encoders), programs
// the queues, submits commands and reads back event records and PRI queue entries.

import { initialLevel, initialTableBytes, leafDescriptor, levelShift, nextTableAddress, tableDescriptor, type GranuleLog2 } from '../../../src/formats/arm-lpae/index.js';
import type { Encodable } from '../../../src/formats/bitfield.js';
import type { CommandWords } from '../../../src/formats/smmuv3/commands.js';
import { decodeEvent, decodePriEntry, type EventRecordFields, type PriEntryFields } from '../../../src/formats/smmuv3/records.js';
import { Reg } from '../../../src/formats/smmuv3/registers.js';
import { CdLayout, encodeCd, encodeL1std, encodeSte, SteConfig, SteLayout, STE_SIZE } from '../../../src/formats/smmuv3/structures.js';
import { SmmuV3, type SmmuTransactionInit } from '../../../src/hw/smmuv3/smmuv3.js';
import type { SmmuV3Options } from '../../../src/hw/smmuv3/parameters.js';
import type { SmmuResult } from '../../../src/hw/smmuv3/transaction.js';
import { InterruptLine } from '../../../src/sim/irq.js';
import { PhysicalMemory } from '../../../src/sim/physical-memory.js';
import { SystemBus } from '../../../src/sim/system-bus.js';

export const CR0 = { SMMUEN: 1, PRIQEN: 2, EVENTQEN: 4, CMDQEN: 8, ATSCHK: 16 } as const;

export interface BenchInit {
  /** STRTAB_BASE_CFG.LOG2SIZE (default 8). */
  log2size?: number;
  /** 2-level Stream table with this SPLIT. */
  split?: number;
  cmdqLog2?: number;
  eventqLog2?: number;
  priqLog2?: number;
  /** CR0 bits beyond the queue enables and SMMUEN (default ATSCHK off). */
  extraCr0?: number;
  /** SMMU_CR2 (default RECINVSID). */
  cr2?: number;
  /** IRQ_CTRL (default all sources enabled). */
  irqCtrl?: number;
  /** Leave SMMUEN clear. */
  disabled?: boolean;
}

export class Bench {
  readonly memory = new PhysicalMemory();
  readonly bus = new SystemBus(this.memory);
  readonly lines = {
    eventq: new InterruptLine('eventq'),
    priq: new InterruptLine('priq'),
    cmdqSync: new InterruptLine('cmdq-sync'),
    gerror: new InterruptLine('gerror'),
    combined: new InterruptLine('combined'),
    sev: new InterruptLine('sev'),
  };
  readonly smmu: SmmuV3;
  strtab = 0n;
  cmdq = 0n;
  eventq = 0n;
  priq = 0n;
  split = 0;
  private next = 0x1000_0000n;

  constructor(options: SmmuV3Options = {}) {
    this.smmu = new SmmuV3({ ...options, memory: this.memory, bus: this.bus, interrupts: this.lines });
  }

  /** Allocates `bytes` of zeroed memory aligned to `align` (default: the size, at least 4 KiB). */
  alloc(bytes: number, align?: number): bigint {
    const a = BigInt(align ?? Math.max(bytes, 4096));
    this.next = ((this.next + a - 1n) / a) * a;
    const at = this.next;
    this.next += BigInt(bytes);
    return at;
  }

  // ---- registers ------------------------------------------------------------------------

  read32(offset: number): number {
    return this.smmu.mmio.read32(offset);
  }

  write32(offset: number, value: number): void {
    this.smmu.mmio.write32(offset, value >>> 0);
  }

  read64(offset: number): bigint {
    return this.smmu.mmio.read(offset, 8);
  }

  write64(offset: number, value: bigint): void {
    this.smmu.mmio.write(offset, 8, value);
  }

  /** Programs the Stream table, the queues and the enables as a driver would. */
  init(o: BenchInit = {}): this {
    const log2 = o.log2size ?? 8;
    if (o.split !== undefined) {
      this.split = o.split;
      const l1 = Math.max(1, 2 ** (log2 - o.split));
      this.strtab = this.alloc(l1 * 8, Math.max(64, l1 * 8));
      this.write64(Reg.STRTAB_BASE, this.strtab);
      this.write32(Reg.STRTAB_BASE_CFG, log2 | (o.split << 6) | (1 << 16));
    } else {
      this.strtab = this.alloc(STE_SIZE * 2 ** log2);
      this.write64(Reg.STRTAB_BASE, this.strtab);
      this.write32(Reg.STRTAB_BASE_CFG, log2);
    }
    const cq = o.cmdqLog2 ?? 8;
    const eq = o.eventqLog2 ?? 8;
    const pq = o.priqLog2 ?? 8;
    this.cmdq = this.alloc(16 * 2 ** cq, Math.max(32, 16 * 2 ** cq));
    this.eventq = this.alloc(32 * 2 ** eq, Math.max(32, 32 * 2 ** eq));
    this.priq = this.alloc(16 * 2 ** pq, Math.max(32, 16 * 2 ** pq));
    this.write64(Reg.CMDQ_BASE, this.cmdq | BigInt(cq));
    this.write64(Reg.EVENTQ_BASE, this.eventq | BigInt(eq));
    this.write64(Reg.PRIQ_BASE, this.priq | BigInt(pq));
    this.write32(Reg.CMDQ_PROD, 0);
    this.write32(Reg.CMDQ_CONS, 0);
    this.write32(Reg.EVENTQ_PROD, 0);
    this.write32(Reg.EVENTQ_CONS, 0);
    this.write32(Reg.PRIQ_PROD, 0);
    this.write32(Reg.PRIQ_CONS, 0);
    this.write32(Reg.CR2, o.cr2 ?? 2);
    this.write32(Reg.IRQ_CTRL, o.irqCtrl ?? 7);
    const queues = CR0.CMDQEN | CR0.EVENTQEN | (this.smmu.params.capabilities.pri ? CR0.PRIQEN : 0);
    this.write32(Reg.CR0, queues | (o.extraCr0 ?? 0) | (o.disabled === true ? 0 : CR0.SMMUEN));
    return this;
  }

  // ---- structures ---------------------------------------------------------------------------

  writeDwords(address: bigint, dwords: readonly bigint[]): void {
    dwords.forEach((d, i) => this.memory.write(address + BigInt(8 * i), 8, d));
  }

  readDwords(address: bigint, count: number): bigint[] {
    return Array.from({ length: count }, (_, i) => this.memory.read(address + BigInt(8 * i), 8));
  }

  /** The address of STE `sid`, allocating its level-2 array (whole, Span = SPLIT + 1) in a 2-level table. */
  steAddress(sid: number): bigint {
    if (this.split === 0) return this.strtab + BigInt(sid * STE_SIZE);
    const l1 = Math.floor(sid / 2 ** this.split);
    const l1Addr = this.strtab + BigInt(8 * l1);
    let desc = this.memory.read(l1Addr, 8);
    if (desc === 0n) {
      const bytes = STE_SIZE * 2 ** this.split;
      const l2 = this.alloc(bytes);
      desc = encodeL1std(l2, this.split + 1);
      this.memory.write(l1Addr, 8, desc);
    }
    const l2 = desc & ~0x3fn & ((1n << 56n) - 1n);
    return l2 + BigInt((sid % 2 ** this.split) * STE_SIZE);
  }

  writeSte(sid: number, fields: Encodable<typeof SteLayout>): bigint {
    const at = this.steAddress(sid);
    this.writeDwords(at, encodeSte(fields));
    return at;
  }

  writeCd(address: bigint, fields: Encodable<typeof CdLayout>): void {
    this.writeDwords(address, encodeCd(fields));
  }

  // ---- commands -------------------------------------------------------------------------------

  /** Writes commands at CMDQ_PROD and publishes them (the model consumes them at once). */
  submit(...commands: CommandWords[]): void {
    const log2 = Number(this.read64(Reg.CMDQ_BASE) & 0x1fn);
    let prod = this.read32(Reg.CMDQ_PROD);
    for (const [w0, w1] of commands) {
      const index = prod & ((1 << log2) - 1);
      this.writeDwords(this.cmdq + BigInt(16 * index), [w0, w1]);
      prod = (prod + 1) & ((2 << log2) - 1);
    }
    this.write32(Reg.CMDQ_PROD, prod);
  }

  get cmdqCons(): number {
    return this.read32(Reg.CMDQ_CONS);
  }

  get gerror(): number {
    return this.read32(Reg.GERROR);
  }

  /** Acknowledges every active global error. */
  ackGerror(): void {
    this.write32(Reg.GERRORN, this.read32(Reg.GERROR));
  }

  // ---- output queues --------------------------------------------------------------------------

  /** Consumes and decodes every record between EVENTQ_CONS and EVENTQ_PROD. */
  events(): EventRecordFields[] {
    return this.drain(Reg.EVENTQ_PROD, Reg.EVENTQ_CONS, this.eventq, 32, (d) => decodeEvent(d));
  }

  priEntries(): PriEntryFields[] {
    return this.drain(Reg.PRIQ_PROD, Reg.PRIQ_CONS, this.priq, 16, (d) => decodePriEntry(d));
  }

  private drain<T>(prodReg: number, consReg: number, base: bigint, size: number, decode: (d: bigint[]) => T): T[] {
    const log2 = Number(this.read64(prodReg === Reg.EVENTQ_PROD ? Reg.EVENTQ_BASE : Reg.PRIQ_BASE) & 0x1fn);
    const mask = (2 << log2) - 1;
    const prod = this.read32(prodReg);
    let cons = this.read32(consReg);
    const out: T[] = [];
    while (((prod ^ cons) & mask) !== 0) {
      const index = cons & ((1 << log2) - 1);
      out.push(decode(this.readDwords(base + BigInt(size * index), size / 8)));
      cons = (cons & 0x8000_0000) | ((cons + 1) & mask);
    }
    // Acknowledge any overflow while consuming (7.4).
    this.write32(consReg, (cons & mask) | (prod & 0x8000_0000));
    return out;
  }

  translate(t: SmmuTransactionInit): SmmuResult {
    return this.smmu.translate(t);
  }

  /**
   * A stage-1-only stream: a 48-bit 4 KiB TTB0 table (unless `cd` overrides it), one CD (or a
   * linear table of 2^S1CDMax CDs when the STE says so), the STE. Returns the table and the CD
   * table's address.
   */
  stage1Stream(sid: number, o: { cd?: Encodable<typeof CdLayout>; ste?: Encodable<typeof SteLayout>; table?: PageTableOptions } = {}): { pt: PageTable; cd: bigint } {
    const pt = new PageTable(this, o.table ?? { stage: 1 });
    const cdMax = Number(o.ste?.S1CDMax ?? 0);
    const cd = this.alloc(64 * 2 ** cdMax);
    this.writeCd(cd, { ...S1_CD, TTB0: pt.root >> 4n, ...o.cd });
    this.writeSte(sid, { V: 1, Config: SteConfig.S1Translate, S1ContextPtr: cd >> 6n, ...o.ste });
    return { pt, cd };
  }

  /** A stage-2-only stream: a 40-bit 4 KiB stage 2 table starting at level 1, VMID `vmid`. */
  stage2Stream(sid: number, vmid: number, o: { ste?: Encodable<typeof SteLayout> } = {}): PageTable {
    const s2 = new PageTable(this, { stage: 2, inputBits: 40, startLevel: 1 });
    this.writeSte(sid, { ...S2_STE, Config: SteConfig.S2Translate, S2VMID: vmid, S2TTB: s2.root >> 4n, ...o.ste });
    return s2;
  }

  /**
   * A nested stream: the stage 1 table, the CD and the stage 2 table; every page holding the CD
   * or a stage 1 table is identity-mapped at stage 2 (call `identity` after mapping more).
   */
  nestedStream(sid: number, vmid: number, o: { cd?: Encodable<typeof CdLayout>; ste?: Encodable<typeof SteLayout> } = {}): { s1: PageTable; s2: PageTable; cd: bigint } {
    const s2 = new PageTable(this, { stage: 2, inputBits: 40, startLevel: 1 });
    const s1 = new PageTable(this, { stage: 1 });
    const cd = this.alloc(64);
    this.writeCd(cd, { ...S1_CD, TTB0: s1.root >> 4n, ...o.cd });
    this.writeSte(sid, { ...S2_STE, Config: SteConfig.Nested, S1ContextPtr: cd >> 6n, S2VMID: vmid, S2TTB: s2.root >> 4n, ...o.ste });
    s2.map(cd & ~0xfffn, cd & ~0xfffn);
    s2.map(s1.root, s1.root);
    return { s1, s2, cd };
  }
}

/** A CD for a 48-bit 4 KiB TTB0, TTB1 disabled, faults aborted and recorded. */
export const S1_CD = { V: 1, AA64: 1, T0SZ: 16, TG0: 0, IPS: 5, EPD1: 1, A: 1, R: 1, ASID: 1 } as const;
/** Stage 2 fields of an STE: 40-bit IPA, 4 KiB granule starting at level 1, 48-bit PA, faults recorded. */
export const S2_STE = { V: 1, S2T0SZ: 24, S2SL0: 1, S2TG: 0, S2PS: 5, S2AA64: 1, S2R: 1 } as const;

/** Identity-maps at stage 2 every page the stage 1 walk of `va` reads (after s1.map). */
export function identityTables(s1: PageTable, s2: PageTable, va: bigint, leafLevel = 3): void {
  for (let l = s1.startLevel; l <= leafLevel; l++) {
    const page = s1.descriptorAddress(va, l) & ~0xfffn;
    s2.map(page, page);
  }
}

export interface PageTableOptions {
  stage: 1 | 2;
  granuleLog2?: GranuleLog2;
  inputBits?: number;
  /** Start level (stage 2: from SL0); default the stage 1 initial level. */
  startLevel?: number;
  /** Descriptors stored big-endian. */
  bigEndian?: boolean;
}

/** A VMSAv8-64 translation table built in the bench's memory. */
export class PageTable {
  readonly root: bigint;
  readonly g: GranuleLog2;
  readonly inputBits: number;
  readonly startLevel: number;
  readonly stage: 1 | 2;
  private readonly bigEndian: boolean;

  constructor(
    private readonly bench: Bench,
    o: PageTableOptions,
  ) {
    this.stage = o.stage;
    this.g = o.granuleLog2 ?? 12;
    this.inputBits = o.inputBits ?? 48;
    this.startLevel = o.startLevel ?? initialLevel(this.g, this.inputBits);
    this.bigEndian = o.bigEndian ?? false;
    const bytes = Math.max(initialTableBytes(this.g, this.inputBits, this.startLevel), 64);
    this.root = bench.alloc(Math.max(bytes, 2 ** this.g), Math.max(bytes, 64));
  }

  /** Maps `va` to `pa` with a leaf at `level` (default 3) and the given descriptor attributes. */
  map(va: bigint, pa: bigint, attrs: Record<string, number | bigint | boolean> = {}, level = 3): bigint {
    const defaults = this.stage === 1 ? { AF: 1, AP: 1, SH: 3 } : { AF: 1, S2AP: 3, SH: 3, MemAttr: 0xf };
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) {
      const at = this.slot(table, va, l);
      let desc = this.read(at);
      if ((desc & 1n) === 0n) {
        const next = this.bench.alloc(2 ** this.g);
        desc = tableDescriptor(next, this.g, false);
        this.write(at, desc);
      }
      table = nextTableAddress(desc, this.g, false);
    }
    const at = this.slot(table, va, level);
    const shift = BigInt(levelShift(this.g, level));
    this.write(at, leafDescriptor(this.stage, this.g, level, (pa >> shift) << shift, false, { ...defaults, ...attrs }));
    return at;
  }

  /** The address of the descriptor that translates `va` at `level` (the tables must exist). */
  descriptorAddress(va: bigint, level: number): bigint {
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) table = nextTableAddress(this.read(this.slot(table, va, l)), this.g, false);
    return this.slot(table, va, level);
  }

  read(at: bigint): bigint {
    const v = this.bench.memory.read(at, 8);
    return this.bigEndian ? swap64(v) : v;
  }

  write(at: bigint, value: bigint): void {
    this.bench.memory.write(at, 8, this.bigEndian ? swap64(value) : value);
  }

  private slot(table: bigint, va: bigint, level: number): bigint {
    const shift = BigInt(levelShift(this.g, level));
    const bits = level === this.startLevel ? BigInt(this.inputBits) - shift : BigInt(this.g - 3);
    const index = (va >> shift) & ((1n << bits) - 1n);
    return table + index * 8n;
  }
}

function swap64(v: bigint): bigint {
  let out = 0n;
  for (let i = 0; i < 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}
