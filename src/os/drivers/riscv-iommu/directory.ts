// The device directory (specification "Device-Directory-Table (DDT)"): a radix tree indexed
// by device_id whose leaves are device contexts, 32 bytes in the base format and 64 bytes in
// the extended format (capabilities.MSI_FLAT). The driver chooses the deepest mode the IOMMU
// accepts, allocates non-leaf pages on demand and reads and writes device contexts.

import { DDI_BITS_BASE, DDI_BITS_EXTENDED, DC_BASE_SIZE, DC_EXTENDED_SIZE, DcWord } from '../../../formats/riscv-iommu/structures.js';
import { IOMMU_MODE_NAMES, IommuMode, Reg } from '../../../formats/riscv-iommu/registers.js';
import { hex } from '../../../sim/u64.js';
import type { IommuContext } from './context.js';
import { RiscvIommuError } from './errors.js';
import { pollUntil } from '../../kernel/poll.js';

const DDTP_BUSY = 1n << 4n;
const PPN_MASK = (1n << 44n) - 1n;

/** The four base-format device-context doublewords the driver uses. */
export interface DeviceContextWords {
  tc: bigint;
  iohgatp: bigint;
  ta: bigint;
  fsc: bigint;
}

/** Reads ddtp once it is not busy; null when it stays busy past the polling budget. */
export function readDdtp(ctx: IommuContext): bigint | null {
  let v = 0n;
  const ok = pollUntil(ctx.kernel, () => {
    v = ctx.regs.read64(Reg.ddtp);
    return (v & DDTP_BUSY) === 0n;
  });
  return ok ? v : null;
}

/** Writes ddtp and reads it back (after busy clears); throws when it stays busy. */
export function writeDdtp(ctx: IommuContext, value: bigint): bigint {
  ctx.regs.write64(Reg.ddtp, value);
  const back = readDdtp(ctx);
  if (back === null) throw new RiscvIommuError(`ddtp stayed busy after writing ${hex(value)}`);
  return back;
}

export class DeviceDirectory {
  readonly contextSize: number;
  private readonly ddiBits: readonly number[];

  private constructor(
    private readonly ctx: IommuContext,
    /** Page number of the root table. */
    readonly rootPage: number,
    /** ddtp.iommu_mode: IommuMode.Lvl1, Lvl2 or Lvl3. */
    readonly mode: number,
    /** Extended-format device contexts (64 bytes). */
    readonly extended: boolean,
  ) {
    this.contextSize = extended ? DC_EXTENDED_SIZE : DC_BASE_SIZE;
    this.ddiBits = extended ? DDI_BITS_EXTENDED : DDI_BITS_BASE;
  }

  /**
   * Allocates the root page and enters the deepest directory mode the IOMMU keeps: 3LVL, then
   * 2LVL, then 1LVL (ddtp.iommu_mode is WARL; an unsupported mode reads back as Off or Bare).
   */
  static create(ctx: IommuContext, extended: boolean): DeviceDirectory {
    const root = ctx.kernel.pages.allocPages(1);
    const ppn = BigInt(root) << 10n;
    for (const mode of [IommuMode.Lvl3, IommuMode.Lvl2, IommuMode.Lvl1]) {
      const back = writeDdtp(ctx, ppn | BigInt(mode));
      const got = Number(back & 0xfn);
      if (got === mode) {
        if (((back >> 10n) & PPN_MASK) !== BigInt(root)) {
          writeDdtp(ctx, BigInt(IommuMode.Off));
          ctx.kernel.pages.freePages(root);
          throw new RiscvIommuError(`ddtp kept root page ${hex((back >> 10n) & PPN_MASK)} instead of ${hex(root)}`);
        }
        return new DeviceDirectory(ctx, root, mode, extended);
      }
      if (got > IommuMode.Bare) {
        ctx.kernel.pages.freePages(root);
        throw new RiscvIommuError(`ddtp reads back ${IOMMU_MODE_NAMES[got] ?? got} after a write of ${IOMMU_MODE_NAMES[mode]}`);
      }
    }
    ctx.kernel.pages.freePages(root);
    throw new RiscvIommuError('the IOMMU accepts no device-directory mode (3LVL, 2LVL or 1LVL)');
  }

  get modeName(): string {
    return IOMMU_MODE_NAMES[this.mode] ?? String(this.mode);
  }

  /** Width of the device_id the mode indexes: 1LVL 7 (6), 2LVL 16 (15), 3LVL 24 bits. */
  get deviceIdBits(): number {
    const levels = this.mode - IommuMode.Lvl1 + 1;
    let bits = 0;
    for (let i = 0; i < levels; i++) bits += this.ddiBits[i];
    return Math.min(bits, 24);
  }

  /**
   * Address of the device context of `deviceId`, creating missing non-leaf pages when
   * `create` (a new non-leaf entry goes from invalid to valid: no invalidation needed).
   * Null when the id is too wide for the mode, or the path is missing and `create` is false.
   */
  contextAddress(deviceId: number, create: boolean): bigint | null {
    if (deviceId < 0 || deviceId >= 2 ** this.deviceIdBits) return null;
    const m = this.ctx.kernel.memory;
    let table = this.rootPage;
    for (let level = this.mode - IommuMode.Lvl1; level > 0; level--) {
      let shift = 0;
      for (let i = 0; i < level; i++) shift += this.ddiBits[i];
      const index = Math.floor(deviceId / 2 ** shift) % 2 ** this.ddiBits[level];
      const slot = (BigInt(table) << 12n) + BigInt(index * 8);
      const entry = m.read(slot, 8);
      if ((entry & 1n) !== 0n) {
        table = Number((entry >> 10n) & PPN_MASK);
        continue;
      }
      if (!create) return null;
      const next = this.ctx.kernel.pages.allocPages(1);
      m.write(slot, 8, (BigInt(next) << 10n) | 1n);
      table = next;
    }
    const index = deviceId % 2 ** this.ddiBits[0];
    return (BigInt(table) << 12n) + BigInt(index * this.contextSize);
  }

  read(address: bigint): DeviceContextWords {
    const m = this.ctx.kernel.memory;
    return {
      tc: m.read(address + BigInt(8 * DcWord.tc), 8),
      iohgatp: m.read(address + BigInt(8 * DcWord.iohgatp), 8),
      ta: m.read(address + BigInt(8 * DcWord.ta), 8),
      fsc: m.read(address + BigInt(8 * DcWord.fsc), 8),
    };
  }

  /** Writes one doubleword of the device context at `address`. */
  writeWord(address: bigint, word: number, value: bigint): void {
    this.ctx.kernel.memory.write(address + BigInt(8 * word), 8, value);
  }
}
