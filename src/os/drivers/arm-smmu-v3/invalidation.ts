// Which invalidation commands an unmap needs (IHI 0070 4.4, 3.9.1.1), after Linux's
// __arm_smmu_tlb_inv_range and arm_smmu_atc_inv_to_cmd:
//  - with range invalidation (IDR3.RIL), a handful of commands, each covering
//    (NUM + 1) * 2^SCALE granules (TG), with the level hint TTL when every leaf is of one size
//    and only leaves changed (4.4.1.1; without TTL, NUM = SCALE = 0 is not allowed);
//  - without it, one command per leaf (per granule when tables were freed), Leaf = 1 unless
//    tables were freed; past CMDQ_MAX_TLBI_OPS commands (512, Linux's threshold for a 4 KiB
//    granule) the whole ASID or VMID is invalidated instead;
//  - stage 1 uses CMD_TLBI_NH_VA / CMD_TLBI_NH_ASID, stage 2 CMD_TLBI_S2_IPA / CMD_TLBI_S12_VMALL;
//  - an ATS Invalidation covers one naturally aligned power-of-two span of 4 KiB pages, so the
//    range is widened to the smallest span that contains it.

import { ATC_INV_SIZE_ALL, cmdAtcInv, cmdTlbiNhAsid, cmdTlbiNhVa, cmdTlbiS12Vmall, cmdTlbiS2Ipa, type CommandWords } from '../../../formats/smmuv3/commands.js';

/** Linux's CMDQ_MAX_TLBI_OPS (1 << (PAGE_SHIFT - 3)): more per-leaf commands than this become one wide command. */
export const CMDQ_MAX_TLBI_OPS = 512;
/** NUM is 5 bits: up to 32 multiples of 2^SCALE granules per range command. */
const RANGE_NUM_MAX = 31;

export interface TlbiRangeRequest {
  stage: 1 | 2;
  /** The ASID (stage 1) or VMID (stage 2) the entries are tagged with. */
  asid: number;
  vmid: number;
  /** First and one-past-last page (4 KiB units) to invalidate. */
  startPage: number;
  endPage: number;
  /** Only leaf entries changed (no table was freed). */
  leaf: boolean;
  /** log2 of the leaf size unmapped, when every leaf had the same size; null when they differed. */
  leafLog2: number | null;
  /** log2 of the domain's translation granule: 12, 14 or 16. */
  granuleLog2: number;
  /** IDR3.RIL. */
  ril: boolean;
}

/** The TLB invalidation commands for a range (not including the CMD_SYNC). */
export function tlbiRangeCommands(r: TlbiRangeRequest): CommandWords[] {
  const pages = r.endPage - r.startPage;
  if (pages <= 0) return [];
  const cmd = (address: bigint, o: { tg?: number; ttl?: number; num?: number; scale?: number }): CommandWords =>
    r.stage === 1 ? cmdTlbiNhVa(0, r.asid, address, { leaf: r.leaf, ...o }) : cmdTlbiS2Ipa(r.vmid, address, { leaf: r.leaf, ...o });
  const out: CommandWords[] = [];
  if (r.ril) {
    const tg = r.granuleLog2;
    // TTL names the level of the leaves: 3 for granule-sized pages, 2 and 1 for blocks (4.4.1.1).
    const ttl = r.leaf && r.leafLog2 !== null ? 4 - (r.leafLog2 - 3) / (tg - 3) : 0;
    let granules = (pages * 4096) / 2 ** tg;
    // Without a level hint a range command must not be NUM = SCALE = 0 (a single granule): as
    // Linux, widen such a range by one granule.
    if (ttl === 0 && granules % (RANGE_NUM_MAX + 1) === 1) granules++;
    let address = r.startPage * 4096;
    while (granules > 0) {
      const scale = trailingZeros(granules);
      const num = Math.floor(granules / 2 ** scale) % (RANGE_NUM_MAX + 1);
      out.push(cmd(BigInt(address), { tg: (tg - 10) / 2, ttl, num: num - 1, scale }));
      address += num * 2 ** (scale + tg);
      granules -= num * 2 ** scale;
    }
    return out;
  }
  const stepLog2 = r.leaf && r.leafLog2 !== null ? r.leafLog2 : r.granuleLog2;
  const stepPages = 2 ** (stepLog2 - 12);
  const count = Math.ceil(pages / stepPages);
  if (count >= CMDQ_MAX_TLBI_OPS) return [r.stage === 1 ? cmdTlbiNhAsid(0, r.asid) : cmdTlbiS12Vmall(r.vmid)];
  for (let p = r.startPage; p < r.endPage; p += stepPages) out.push(cmd(BigInt(p) << 12n, {}));
  return out;
}

/**
 * The CMD_ATC_INV of StreamID `sid` covering pages [startPage, endPage) (Linux
 * arm_smmu_atc_inv_to_cmd); an empty range invalidates everything (Size 52).
 */
export function atcInvCommand(sid: number, startPage: number, endPage: number): CommandWords {
  if (endPage <= startPage) return cmdAtcInv(sid, 0n, ATC_INV_SIZE_ALL);
  const first = BigInt(startPage);
  const last = BigInt(endPage - 1);
  let span = 0;
  for (let x = first ^ last; x !== 0n; x >>= 1n) span++;
  const base = (first >> BigInt(span)) << BigInt(span);
  return cmdAtcInv(sid, base << 12n, span);
}

function trailingZeros(x: number): number {
  let n = 0;
  for (let v = x; v % 2 === 0; v /= 2) n++;
  return n;
}
