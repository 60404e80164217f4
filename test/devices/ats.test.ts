// PCIe Address Translation Services on the endpoint side (PCIe Base Specification, chapter 10):
// the function's Address Translation Cache (10.2.3 completion fields, 10.3 invalidation), its
// DMA path with ATS enabled in the ATS capability (10.1, 10.2, 10.5.1), and the host bridge's
// routing of Translation Requests, Invalidation Requests, Page Requests and Page Request Group
// Responses (10.3, 10.4). The translation agent above is a fake that answers from a table.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirectDmaPort, DmaPortStatus, type DmaPort, type DmaPortStatusValue, type DmaRequester } from '../../src/devices/dma-port.js';
import { Control, DmaEngineReg, ErrorCause, Operation, Status } from '../../src/devices/dma-engine/index.js';
import {
  AddressTranslationCache,
  AtcFlag,
  AtsCompletion,
  AtsDmaPort,
  AtsStatus,
  ecamOffset,
  NO_PASID,
  PageResponseCode,
  PciCfg,
  PciCommand,
  PciDmaEngineFunction,
  PcieHostBridge,
  PciStatus,
  type AtsInvalidation,
  type AtsStatusValue,
  type AtsTranslationAgent,
  type PageRequest,
} from '../../src/devices/pcie/index.js';
import type { MmioSize } from '../../src/sim/mmio.js';
import { PhysicalMemory } from '../../src/sim/physical-memory.js';
import { SystemBus } from '../../src/sim/system-bus.js';

const RW = AtcFlag.Read | AtcFlag.Write;

describe('Address Translation Cache (PCIe 10.2.3, 10.3)', () => {
  it('caches a translation of 2^n pages and answers any page of its range, in its address space only', () => {
    const atc = new AddressTranslationCache();
    expect(atc.lookup(NO_PASID, false, 0x40200)).toBe(false);
    // A 2 MiB range (512 pages) containing page 0x40234, translated to 0x80000.
    atc.insert(NO_PASID, false, 0x40234, 9, 0x80000, RW);
    expect(atc.lookup(NO_PASID, false, 0x40200)).toBe(true);
    expect(atc.hitPage).toBe(0x80000);
    expect(atc.lookup(NO_PASID, false, 0x403ff)).toBe(true);
    expect(atc.hitPage).toBe(0x801ff);
    expect(atc.hitFlags).toBe(RW);
    expect(atc.lookup(NO_PASID, false, 0x40400)).toBe(false); // past the range
    expect(atc.lookup(7, false, 0x40234)).toBe(false); // a PASID is another address space
    expect(atc.counters).toMatchObject({ hits: 2, misses: 3, fills: 1 });
    expect(atc.entries()).toEqual([{ pasid: null, privileged: false, address: 0x4020_0000n, translated: 0x8000_0000n, sizeLog2: 21, flags: RW }]);
  });

  it('keeps permissions per privilege mode of a PASID (10.2.3 Priv), and lets Global entries serve every PASID', () => {
    const atc = new AddressTranslationCache();
    atc.insert(5, true, 0x100, 0, 0x900, AtcFlag.Read);
    expect(atc.lookup(5, false, 0x100)).toBe(false);
    expect(atc.lookup(5, true, 0x100)).toBe(true);
    atc.insert(5, false, 0x200, 0, 0xa00, AtcFlag.Read | AtcFlag.Global);
    expect(atc.lookup(6, false, 0x200)).toBe(true);
    expect(atc.hitPage).toBe(0xa00);
    expect(atc.lookup(NO_PASID, false, 0x200)).toBe(false); // Global means every PASID, not requests without one
    // A translation without a PASID cannot be Global.
    atc.insert(NO_PASID, false, 0x300, 0, 0xb00, AtcFlag.Read | AtcFlag.Global);
    expect(atc.entries().find((e) => e.pasid === null)?.flags).toBe(AtcFlag.Read);
  });

  /** Entries: no PASID, PASID 1, PASID 2 at page 0x10; PASID 1 Global at 0x20; PASID 1 at 0x2000. */
  function populated(): AddressTranslationCache {
    const atc = new AddressTranslationCache({ sets: 1, ways: 8 });
    atc.insert(NO_PASID, false, 0x10, 0, 0x1010, RW);
    atc.insert(1, false, 0x10, 0, 0x2010, RW);
    atc.insert(2, true, 0x10, 0, 0x3010, RW);
    atc.insert(1, false, 0x20, 0, 0x2020, RW | AtcFlag.Global);
    atc.insert(1, false, 0x2000, 0, 0x3000, RW);
    return atc;
  }
  const spaces = (atc: AddressTranslationCache) =>
    atc
      .entries()
      .map((e) => `${e.pasid ?? '-'}@${(e.address >> 12n).toString(16)}`)
      .sort();

  it('an Invalidation Request without a PASID removes every entry in its range, whatever its PASID (10.3.8)', () => {
    const atc = populated();
    expect(atc.invalidate(null, false, 0x10000n, 12)).toBe(3);
    expect(spaces(atc)).toEqual(['1@20', '1@2000']);
    expect(atc.counters).toMatchObject({ invalidationRequests: 1, invalidations: 3 });
  });

  it('with a PASID and Global Invalidate clear, removes that PASID’s entries but not Global ones (10.3.8)', () => {
    const atc = populated();
    expect(atc.invalidate(1, false, 0n, 64)).toBe(2); // the whole address space
    expect(spaces(atc)).toEqual(['-@10', '1@20', '2@10']);
  });

  it('with Global Invalidate set, removes the entries of every PASID in the range, Global ones included (10.3.8)', () => {
    const atc = populated();
    expect(atc.invalidate(1, true, 0n, 24)).toBe(3); // the first 16 MiB
    expect(spaces(atc)).toEqual(['-@10', '1@2000']);
  });

  it('removes every entry that overlaps the range: a small invalidation inside a large entry, a large one over small entries (10.3.1 S)', () => {
    const atc = new AddressTranslationCache();
    atc.insert(NO_PASID, false, 0x200, 9, 0x1000, RW); // 2 MiB at 0x20_0000
    atc.insert(NO_PASID, false, 0x401, 0, 0x2000, RW);
    atc.insert(NO_PASID, false, 0x402, 0, 0x2001, RW);
    expect(atc.invalidate(null, false, 0x2f_f000n, 12)).toBe(1); // the last page of the 2 MiB entry
    expect(atc.invalidate(null, false, 0x40_0000n, 13)).toBe(1); // 8 KiB: pages 0x400-0x401
    expect(atc.invalidate(null, false, 0x40_0abcn, 21)).toBe(1); // 2 MiB from its aligned start
    expect(atc.occupancy).toBe(0);
  });

  it('replaces the least recently used entry of a full set and counts the eviction', () => {
    const atc = new AddressTranslationCache({ sets: 1, ways: 2 });
    atc.insert(NO_PASID, false, 1, 0, 0x11, RW);
    atc.insert(NO_PASID, false, 2, 0, 0x12, RW);
    expect(atc.lookup(NO_PASID, false, 1)).toBe(true); // page 2 is now the older
    atc.insert(NO_PASID, false, 3, 0, 0x13, RW);
    expect(atc.counters.evictions).toBe(1);
    expect(atc.lookup(NO_PASID, false, 2)).toBe(false);
    expect(atc.lookup(NO_PASID, false, 1)).toBe(true);
    expect(atc.occupancy).toBe(2);
    expect(() => new AddressTranslationCache({ sets: 3, ways: 2 })).toThrow(RangeError);
  });

  it('a newer translation overlapping an older one of the same address space supersedes it', () => {
    const atc = new AddressTranslationCache();
    atc.insert(4, false, 0x205, 0, 0x100, AtcFlag.Read);
    atc.insert(4, false, 0x205, 9, 0x800, RW);
    expect(atc.counters.superseded).toBe(1);
    expect(atc.lookup(4, false, 0x205)).toBe(true);
    expect(atc.hitPage).toBe(0x805);
    expect(atc.hitFlags).toBe(RW);
  });

  it('agrees with a reference list of translations under any sequence of fills and invalidations (property)', () => {
    type Op = { kind: 'fill' | 'inval'; pasid: number; global: boolean; page: number; log2: number };
    const op = fc.record({
      kind: fc.constantFrom<'fill' | 'inval'>('fill', 'fill', 'inval'),
      pasid: fc.constantFrom(NO_PASID, 1, 2),
      global: fc.boolean(),
      page: fc.integer({ min: 0, max: 0x7ff }),
      log2: fc.constantFrom(0, 1, 3, 9),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops: Op[]) => {
        // Fully associative and larger than the fills: nothing is evicted.
        const atc = new AddressTranslationCache({ sets: 1, ways: 64 });
        type Ref = { pasid: number; global: boolean; base: number; pages: number; target: number };
        let ref: Ref[] = [];
        const overlaps = (r: Ref, base: number, pages: number) => r.base < base + pages && r.base + r.pages > base;
        ops.forEach((o, i) => {
          const pages = 2 ** o.log2;
          const base = Math.floor(o.page / pages) * pages;
          if (o.kind === 'fill') {
            const global = o.global && o.pasid !== NO_PASID;
            ref = ref.filter((r) => !(overlaps(r, base, pages) && (r.pasid === o.pasid || (r.pasid !== NO_PASID && o.pasid !== NO_PASID && (global || r.global)))));
            ref.push({ pasid: o.pasid, global, base, pages, target: 0x10000 * (i + 1) });
            atc.insert(o.pasid, false, o.page, o.log2, 0x10000 * (i + 1), RW | (o.global ? AtcFlag.Global : 0));
          } else {
            const pasid = o.pasid === NO_PASID ? null : o.pasid;
            ref = ref.filter((r) => !(overlaps(r, base, pages) && (pasid === null || (o.global ? r.pasid !== NO_PASID : r.pasid === pasid && !r.global))));
            atc.invalidate(pasid, o.global, BigInt(o.page) << 12n, 12 + o.log2);
          }
        });
        for (const pasid of [NO_PASID, 1, 2, 3]) {
          for (let page = 0; page < 0x800; page += 0x3f) {
            const r = ref.find((e) => page >= e.base && page < e.base + e.pages && (e.pasid === pasid || (e.global && pasid !== NO_PASID)));
            expect(atc.lookup(pasid, false, page)).toBe(r !== undefined);
            if (r !== undefined) expect(atc.hitPage).toBe(r.target + (page - r.base));
          }
        }
        expect(atc.occupancy).toBe(ref.length);
      }),
      { numRuns: 200 },
    );
  });
});

// ---- the endpoint's DMA path ------------------------------------------------------------------

interface Answer {
  status?: AtsStatusValue;
  address?: bigint;
  sizeLog2?: number;
  read?: boolean;
  write?: boolean;
  global?: boolean;
  u?: boolean;
}

interface Seen {
  deviceId: number;
  pasid: number | null;
  privileged: boolean;
  translated: boolean;
  address: bigint;
}

/**
 * A translation agent with a memory behind it: Translation Requests are answered by `answer`
 * (default: the 4 KiB page at address + 0x1_0000_0000, R and W), DMA goes to the memory.
 */
class FakeAgent implements DmaPort, AtsTranslationAgent {
  readonly memory = new PhysicalMemory();
  readonly direct = new DirectDmaPort(new SystemBus(this.memory));
  readonly asked: (Seen & { noWrite: boolean })[] = [];
  readonly dma: Seen[] = [];
  answer: (address: bigint, noWrite: boolean) => Answer = (a) => ({ address: (a & ~0xfffn) + 0x1_0000_0000n });

  get value(): bigint {
    return this.direct.value;
  }

  atsTranslate(r: DmaRequester, address: bigint, noWrite: boolean, into: AtsCompletion): AtsStatusValue {
    this.asked.push({ ...seen(r, address), noWrite });
    const a = this.answer(address, noWrite);
    into.address = a.address ?? 0n;
    into.sizeLog2 = a.sizeLog2 ?? 12;
    into.read = a.read ?? true;
    into.write = a.write ?? true;
    into.exec = false;
    into.privileged = r.pasidValid && r.privileged;
    into.global = a.global ?? false;
    into.untranslatedOnly = a.u ?? false;
    return a.status ?? AtsStatus.Success;
  }

  read(r: DmaRequester, a: bigint, s: MmioSize): DmaPortStatusValue {
    this.dma.push(seen(r, a));
    return this.direct.read(r, a, s);
  }
  write(r: DmaRequester, a: bigint, s: MmioSize, d: bigint): DmaPortStatusValue {
    this.dma.push(seen(r, a));
    return this.direct.write(r, a, s, d);
  }
  readBurst(r: DmaRequester, a: bigint, n: number, into: Uint8Array, o: number): DmaPortStatusValue {
    this.dma.push(seen(r, a));
    return this.direct.readBurst(r, a, n, into, o);
  }
  writeBurst(r: DmaRequester, a: bigint, n: number, from: Uint8Array, o: number): DmaPortStatusValue {
    this.dma.push(seen(r, a));
    return this.direct.writeBurst(r, a, n, from, o);
  }
}

function seen(r: DmaRequester, address: bigint): Seen {
  return { deviceId: r.deviceId, pasid: r.pasidValid ? r.pasid : null, privileged: r.privileged, translated: r.translated, address };
}

function requester(o: Partial<{ deviceId: number; pasid: number; privileged: boolean }> = {}): DmaRequester {
  return { deviceId: o.deviceId ?? 0x18, pasidValid: o.pasid !== undefined, pasid: o.pasid ?? 0, privileged: o.privileged ?? false, translated: false };
}

function atsPort(o: { stu?: number; globalInvalidate?: boolean; enabled?: boolean } = {}) {
  const agent = new FakeAgent();
  const port = new AtsDmaPort({ globalInvalidate: o.globalInvalidate });
  port.upstream = agent;
  port.enabled = o.enabled ?? true;
  port.stu = o.stu ?? 0;
  return { agent, port };
}

const IOVA = 0x4000_1238n;

describe('the DMA path of a function with ATS enabled (PCIe 10.1, 10.2)', () => {
  it('with ATS Control.Enable clear, sends every request untranslated and no Translation Request (10.1.1)', () => {
    const { agent, port } = atsPort({ enabled: false });
    expect(port.write(requester(), IOVA, 4, 0x55n)).toBe(DmaPortStatus.Ok);
    expect(agent.asked).toEqual([]);
    expect(agent.dma).toEqual([{ deviceId: 0x18, pasid: null, privileged: false, translated: false, address: IOVA }]);
    expect(agent.memory.read(IOVA, 4)).toBe(0x55n);
    expect(port.counters).toMatchObject({ untranslatedRequests: 1, translatedRequests: 0, translationRequests: 0 });
  });

  it('on a miss asks for the page (NW set for a read), caches it, and sends the request translated; the next request hits (10.2)', () => {
    const { agent, port } = atsPort();
    agent.memory.write(0x1_4000_1238n, 8, 0x1122_3344_5566_7788n);
    expect(port.read(requester(), IOVA, 8)).toBe(DmaPortStatus.Ok);
    expect(port.value).toBe(0x1122_3344_5566_7788n);
    expect(agent.asked).toEqual([{ deviceId: 0x18, pasid: null, privileged: false, translated: false, address: IOVA, noWrite: true }]);
    expect(agent.dma).toEqual([{ deviceId: 0x18, pasid: null, privileged: false, translated: true, address: 0x1_4000_1238n }]);
    const buf = new Uint8Array(16);
    expect(port.readBurst(requester(), 0x4000_1ff0n, 16, buf, 0)).toBe(DmaPortStatus.Ok);
    expect(agent.asked).toHaveLength(1);
    expect(agent.dma[1]).toMatchObject({ translated: true, address: 0x1_4000_1ff0n });
    expect(port.counters).toMatchObject({ translationRequests: 1, translatedRequests: 2, untranslatedRequests: 0 });
    expect(port.atc.counters).toMatchObject({ hits: 1, misses: 1, fills: 1 });
  });

  it('uses a large completion for every page of its range, translating each offset within it (10.2.3 S)', () => {
    const { agent, port } = atsPort();
    agent.answer = () => ({ address: 0x2_0020_0000n, sizeLog2: 21 });
    const data = Uint8Array.of(1, 2, 3, 4);
    expect(port.writeBurst(requester(), 0x4000_0000n, 4, data, 0)).toBe(DmaPortStatus.Ok);
    expect(port.writeBurst(requester(), 0x401f_f800n, 4, data, 0)).toBe(DmaPortStatus.Ok);
    expect(agent.asked).toHaveLength(1);
    expect(agent.asked[0].noWrite).toBe(false);
    expect(agent.dma.map((d) => d.address)).toEqual([0x2_0020_0000n, 0x2_003f_f800n]);
    expect(agent.memory.readBytes(0x2_003f_f800n, 4)).toEqual(data);
  });

  it('asks again, with NW clear, to write a page it translated for reading (10.1.2)', () => {
    const { agent, port } = atsPort();
    agent.answer = (a, noWrite) => ({ address: (a & ~0xfffn) + 0x1_0000_0000n, write: !noWrite });
    expect(port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Ok);
    expect(port.write(requester(), IOVA, 4, 9n)).toBe(DmaPortStatus.Ok);
    expect(agent.asked.map((a) => a.noWrite)).toEqual([true, false]);
    expect(agent.dma.map((d) => d.translated)).toEqual([true, true]);
    expect(port.counters.permissionUpgrades).toBe(1);
    // The read-write translation replaced the read-only one: both kinds now hit.
    expect(port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Ok);
    expect(port.write(requester(), IOVA, 4, 9n)).toBe(DmaPortStatus.Ok);
    expect(agent.asked).toHaveLength(2);
    expect(port.atc.occupancy).toBe(1);
  });

  it('sends untranslated what a completion does not allow: no access (not cached), U (cached), a missing permission (10.2.3)', () => {
    const noAccess = atsPort();
    noAccess.agent.answer = () => ({ read: false, write: false });
    expect(noAccess.port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Ok);
    expect(noAccess.port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Ok);
    expect(noAccess.agent.asked).toHaveLength(2); // nothing cached: asked each time
    expect(noAccess.agent.dma.map((d) => [d.translated, d.address])).toEqual([
      [false, IOVA],
      [false, IOVA],
    ]);
    expect(noAccess.port.counters).toMatchObject({ noAccess: 2, untranslatedRequests: 2, translatedRequests: 0 });

    const u = atsPort();
    u.agent.answer = () => ({ address: 0x2800_0000n, u: true });
    expect(u.port.write(requester(), 0x2800_0000n, 4, 1n)).toBe(DmaPortStatus.Ok);
    expect(u.port.write(requester(), 0x2800_0004n, 4, 2n)).toBe(DmaPortStatus.Ok);
    expect(u.agent.asked).toHaveLength(1); // U is remembered
    expect(u.agent.dma.every((d) => !d.translated)).toBe(true);
    expect(u.port.counters).toMatchObject({ untranslatedOnly: 2, untranslatedRequests: 2 });

    const readOnly = atsPort();
    readOnly.agent.answer = (a) => ({ address: a & ~0xfffn, write: false });
    expect(readOnly.port.write(requester(), IOVA, 4, 1n)).toBe(DmaPortStatus.Ok);
    expect(readOnly.agent.asked[0].noWrite).toBe(false);
    expect(readOnly.agent.dma[0].translated).toBe(false);
    expect(readOnly.port.counters.permissionDenied).toBe(1);
    expect(readOnly.port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Ok); // the read permission was cached
    expect(readOnly.agent.asked).toHaveLength(1);
    expect(readOnly.agent.dma[1].translated).toBe(true);
  });

  it('aborts a request whose Translation Request completes with UR, fails it as a target abort with CA, and caches neither (10.2.3)', () => {
    const { agent, port } = atsPort();
    agent.answer = () => ({ status: AtsStatus.UnsupportedRequest });
    expect(port.writeBurst(requester(), IOVA, 4, new Uint8Array(4), 0)).toBe(DmaPortStatus.Aborted);
    expect(port.failedAtTranslation).toBe(true);
    agent.answer = () => ({ status: AtsStatus.CompleterAbort });
    expect(port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.BusError);
    expect(agent.dma).toEqual([]);
    expect(port.atc.occupancy).toBe(0);
    expect(port.counters).toMatchObject({ unsupportedRequests: 1, completerAborts: 1, translationRequests: 2 });
  });

  it('drops a malformed completion (the request aborts as at a Completion Timeout)', () => {
    const { agent, port } = atsPort();
    agent.answer = () => ({ sizeLog2: 11 });
    expect(port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Aborted);
    agent.answer = () => ({ address: 1n << 64n });
    expect(port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Aborted);
    expect(port.counters.malformedCompletions).toBe(2);
    expect(agent.dma).toEqual([]);
  });

  it('does not cache a translation smaller than the Smallest Translation Unit (10.5.1.3)', () => {
    const { agent, port } = atsPort({ stu: 1 });
    expect(port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Ok); // the agent answers 4 KiB, STU is 8 KiB
    expect(agent.dma[0].translated).toBe(false);
    expect(port.counters.stuViolations).toBe(1);
    agent.answer = () => ({ address: 0x7000_0000n, sizeLog2: 13 });
    expect(port.read(requester(), IOVA, 4)).toBe(DmaPortStatus.Ok);
    expect(agent.dma[1]).toMatchObject({ translated: true, address: 0x7000_1238n });
  });

  it('asks with the PASID and privilege of the request and sends translated requests without a PASID (10.1.3)', () => {
    const { agent, port } = atsPort();
    expect(port.read(requester({ pasid: 9, privileged: true }), IOVA, 4)).toBe(DmaPortStatus.Ok);
    expect(agent.asked[0]).toMatchObject({ pasid: 9, privileged: true });
    expect(agent.dma[0]).toEqual({ deviceId: 0x18, pasid: null, privileged: false, translated: true, address: 0x1_4000_1238n });
    // Another PASID, the same PASID unprivileged, no PASID: three more address spaces.
    port.read(requester({ pasid: 8, privileged: true }), IOVA, 4);
    port.read(requester({ pasid: 9 }), IOVA, 4);
    port.read(requester(), IOVA, 4);
    port.read(requester({ pasid: 9, privileged: true }), IOVA, 4);
    expect(agent.asked).toHaveLength(4);
  });

  it('shares a Global translation among PASIDs only with Global Invalidate Supported (10.2.3 Global, 10.5.1.2)', () => {
    for (const globalInvalidate of [true, false]) {
      const { agent, port } = atsPort({ globalInvalidate });
      agent.answer = (a) => ({ address: a & ~0xfffn, global: true });
      port.read(requester({ pasid: 1 }), IOVA, 4);
      port.read(requester({ pasid: 2 }), IOVA, 4);
      expect(agent.asked).toHaveLength(globalInvalidate ? 1 : 2);
      // Global Invalidate: honoured (the entry of PASID 1 goes) or ignored (only PASID 3's entries would).
      expect(port.invalidate({ rid: 0x18, segment: 0, pasid: 3, global: true, address: IOVA & ~0xfffn, sizeLog2: 12, itag: 0 })).toBe(true);
      expect(port.atc.occupancy).toBe(globalInvalidate ? 0 : 2);
    }
  });

  it('sends requests untranslated to an upstream that is no translation agent', () => {
    const memory = new PhysicalMemory();
    const port = new AtsDmaPort();
    port.upstream = new DirectDmaPort(new SystemBus(memory));
    port.enabled = true;
    expect(port.write(requester(), 0x8000_0000n, 4, 7n)).toBe(DmaPortStatus.Ok);
    expect(memory.read(0x8000_0000n, 4)).toBe(7n);
    expect(port.counters).toMatchObject({ translationRequests: 0, untranslatedRequests: 1 });
  });

  it('refuses broken requests before asking for a translation', () => {
    const { agent, port } = atsPort();
    expect(port.read(requester(), 0x1001n, 4)).toBe(DmaPortStatus.BusError);
    expect(port.readBurst(requester(), 0xff0n, 32, new Uint8Array(32), 0)).toBe(DmaPortStatus.BusError);
    expect(agent.asked).toEqual([]);
  });

  it('completes Invalidation Requests only while enabled and well formed; clearing Enable or changing STU empties the ATC', () => {
    const { port } = atsPort();
    const inval = (o: Partial<AtsInvalidation> = {}): AtsInvalidation => ({ rid: 0x18, segment: 0, pasid: null, global: false, address: IOVA & ~0xfffn, sizeLog2: 12, itag: 3, ...o });
    port.read(requester(), IOVA, 4);
    expect(port.invalidate(inval({ sizeLog2: 11 }))).toBe(false);
    expect(port.invalidate(inval({ itag: 32 }))).toBe(false);
    expect(port.invalidate(inval({ pasid: 1 << 20 }))).toBe(false);
    expect(port.atc.occupancy).toBe(1);
    expect(port.invalidate(inval())).toBe(true);
    expect(port.atc.occupancy).toBe(0);
    port.read(requester(), IOVA, 4);
    port.stu = 2;
    expect(port.atc.occupancy).toBe(0);
    port.stu = 0;
    port.read(requester(), IOVA, 4);
    port.enabled = false;
    expect(port.atc.occupancy).toBe(0);
    expect(port.invalidate(inval())).toBe(false);
    expect(port.counters).toMatchObject({ invalidations: 1, invalidationsDropped: 4 });
  });
});

// ---- functions behind a host bridge ------------------------------------------------------------

const ATS_CONTROL_ENABLE = 0x8000;

function machine(o: { deviceIdFor?: (rid: number) => number; upstream?: DmaPort; segment?: number } = {}) {
  const agent = new FakeAgent();
  const bridge = new PcieHostBridge({ segment: o.segment ?? 0, upstream: o.upstream ?? agent, deviceIdFor: o.deviceIdFor });
  const a = new PciDmaEngineFunction({ name: 'a' });
  const b = new PciDmaEngineFunction({ name: 'b' });
  bridge.attach(a, 3, 0); // rid 0x18
  bridge.attach(b, 4, 0); // rid 0x20
  const enable = (fn: PciDmaEngineFunction, control = ATS_CONTROL_ENABLE) => {
    const dev = fn.devfn >> 3;
    bridge.configWrite(ecamOffset(0, dev, 0, PciCfg.COMMAND), 2, PciCommand.BUS_MASTER);
    bridge.configWrite(ecamOffset(0, dev, 0, fn.capabilities.ats + 6), 2, control);
  };
  const fill = (fn: PciDmaEngineFunction, dst: bigint, length: number) => {
    const r = fn.engine;
    r.mmioWrite(DmaEngineReg.DESTINATION, 8, dst);
    r.mmioWrite(DmaEngineReg.FILL, 8, 0x0807_0605_0403_0201n);
    r.mmioWrite32(DmaEngineReg.LENGTH, length);
    r.mmioWrite32(DmaEngineReg.CONTROL, Control.START | (Operation.Fill << Control.OP_SHIFT));
    return r.mmioRead32(DmaEngineReg.STATUS);
  };
  return { agent, bridge, a, b, enable, fill };
}

const inval = (rid: number, o: Partial<AtsInvalidation> = {}): AtsInvalidation => ({ rid, segment: 0, pasid: null, global: false, address: 0n, sizeLog2: 64, itag: 0, ...o });

describe('ATS through the host bridge and the PCI function (PCIe 10.3, 10.4, 10.5.1)', () => {
  it('a DMA engine with ATS enabled in configuration space translates through its ATC: one Translation Request per page', () => {
    const { agent, bridge, a, enable, fill } = machine();
    enable(a);
    expect(a.atsPort?.enabled).toBe(true);
    // 8 KiB in 64-byte transactions: two pages, 128 writes.
    expect(fill(a, 0x4000_0000n, 0x2000)).toBe(Status.DONE);
    expect(agent.asked.map((r) => [r.deviceId, r.address])).toEqual([
      [0x18, 0x4000_0000n],
      [0x18, 0x4000_1000n],
    ]);
    expect(agent.dma).toHaveLength(128);
    expect(agent.dma.every((d) => d.translated && d.deviceId === 0x18)).toBe(true);
    expect(agent.memory.read(0x1_4000_1ff8n, 8)).toBe(0x0807_0605_0403_0201n);
    expect(a.atc?.counters).toMatchObject({ misses: 2, hits: 126, fills: 2 });
    expect(bridge.counters).toMatchObject({ atsTranslationRequests: 2, translatedRequests: 128, dmaWrites: 128 });
  });

  it('takes Enable and the Smallest Translation Unit from ATS Control; a function reset disables ATS and empties the ATC', () => {
    const { bridge, a, enable, fill } = machine();
    enable(a, ATS_CONTROL_ENABLE | 2);
    expect(a.atsPort?.stu).toBe(2);
    fill(a, 0x4000_0000n, 64);
    expect(a.atsPort?.counters.stuViolations).toBe(1); // the fake agent answers 4 KiB
    enable(a, ATS_CONTROL_ENABLE);
    fill(a, 0x4000_0000n, 64);
    expect(a.atc?.occupancy).toBe(1);
    a.resetConfig();
    expect(a.atsEnabled).toBe(false);
    expect(a.atc?.occupancy).toBe(0);
    expect(bridge.invalidateAtc(inval(0x18))).toBe(false);
  });

  it('sends Translation Requests under the mapped device id, and refuses them with UR without a translation agent upstream', () => {
    const mapped = machine({ deviceIdFor: (rid) => (rid === 0x18 ? 0x2_0077 : -1) });
    mapped.enable(mapped.a);
    mapped.fill(mapped.a, 0x4000_0000n, 8);
    expect(mapped.agent.asked[0].deviceId).toBe(0x2_0077);
    expect(mapped.agent.dma[0].deviceId).toBe(0x2_0077);
    mapped.enable(mapped.b);
    mapped.fill(mapped.b, 0x4000_0000n, 8);
    expect(mapped.b.engine.mmioRead32(DmaEngineReg.STATUS) & Status.ERROR).toBe(Status.ERROR);
    expect(mapped.bridge.counters.unmappedRequesters).toBe(1);

    const plain = machine({ upstream: new DirectDmaPort(new SystemBus(new PhysicalMemory())) });
    plain.enable(plain.a);
    expect(plain.fill(plain.a, 0x4000_0000n, 8) & Status.ERROR).toBe(Status.ERROR);
    expect((plain.a.engine.mmioRead32(DmaEngineReg.STATUS) & Status.CAUSE_MASK) >>> Status.CAUSE_SHIFT).toBe(ErrorCause.Aborted);
    expect(plain.bridge.counters).toMatchObject({ atsTranslationRequests: 1, atsUnsupported: 1 });
    // A Translation Request has a completion: even for a posted write, the function learns of the UR.
    const status = plain.bridge.configRead(ecamOffset(0, 3, 0, PciCfg.STATUS), 2);
    expect(status & PciStatus.RECEIVED_MASTER_ABORT).toBe(PciStatus.RECEIVED_MASTER_ABORT);
    expect(plain.a.counters.dmaErrors).toBe(1);
  });

  it('routes an Invalidation Request to the function it names, which completes it; absent or ATS-disabled functions do not', () => {
    const { bridge, a, b, enable, fill } = machine();
    enable(a);
    enable(b);
    fill(a, 0x4000_0000n, 64);
    fill(b, 0x4000_0000n, 64);
    expect(bridge.invalidateAtc(inval(0x20, { itag: 5 }))).toBe(true);
    expect(b.atc?.occupancy).toBe(0);
    expect(a.atc?.occupancy).toBe(1);
    expect(b.counters.atsInvalidations).toBe(1);
    expect(bridge.invalidateAtc(inval(0x28))).toBe(false); // nobody at 00:05.0
    expect(bridge.invalidateAtc(inval(0x18, { segment: 1 }))).toBe(false); // another hierarchy
    bridge.configWrite(ecamOffset(0, 3, 0, a.capabilities.ats + 6), 2, 0);
    expect(bridge.invalidateAtc(inval(0x18))).toBe(false);
    expect(bridge.counters).toMatchObject({ atsInvalidations: 4, atsInvalidationsUnclaimed: 3 });
  });

  it('names functions by the device id the upstream sees them with', () => {
    const { bridge, a, enable, fill } = machine({ segment: 2, deviceIdFor: (rid) => (2 << 16) | (rid + 0x100) });
    enable(a);
    fill(a, 0x4000_0000n, 64);
    expect(bridge.invalidateAtc(inval(0x18, { segment: 2 }))).toBe(false);
    expect(bridge.invalidateAtc(inval(0x118, { segment: 2 }))).toBe(true);
    expect(a.atc?.occupancy).toBe(0);
  });

  it('forwards Page Requests under the mapped id to the page-request sink and routes responses back to the function (10.4)', () => {
    const { bridge, a } = machine({ deviceIdFor: (rid) => (1 << 16) | rid });
    const request: Omit<PageRequest, 'rid' | 'segment'> = { pasid: 4, privileged: false, exec: false, address: 0x5000n, read: true, write: false, last: true, groupIndex: 0x1a };
    expect(a.sendPageRequest(request)).toBe(true);
    expect(bridge.counters).toMatchObject({ pageRequests: 1, pageRequestsDropped: 1 }); // no sink yet
    const got: PageRequest[] = [];
    bridge.pageRequestSink = { pageRequest: (r) => got.push(r) };
    a.sendPageRequest(request);
    expect(got).toEqual([{ ...request, rid: 0x18, segment: 1 }]);
    expect(bridge.pageResponse({ rid: 0x18, segment: 1, pasid: 4, groupIndex: 0x1a, code: PageResponseCode.Success })).toBe(true);
    expect(a.pageResponses).toEqual([{ rid: 0x18, segment: 1, pasid: 4, groupIndex: 0x1a, code: PageResponseCode.Success }]);
    expect(bridge.pageResponse({ rid: 0x30, segment: 1, pasid: null, groupIndex: 0, code: PageResponseCode.InvalidRequest })).toBe(false);
    expect(bridge.counters).toMatchObject({ pageResponses: 2, pageResponsesUnclaimed: 1 });
    expect(a.counters).toMatchObject({ pageRequests: 2, pageResponses: 1 });
  });
});
