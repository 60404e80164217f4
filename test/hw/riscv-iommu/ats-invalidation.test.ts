// Conformance tests of PCIe ATS invalidation and PRG responses sent through the command queue
// (RISC-V IOMMU specification v1.0, section "IOMMU PCIe ATS commands" of "Command-Queue (CQ)",
// section "IOMMU Command-queue Fence commands" (IOFENCE.C waits for ATS.INVAL), and register
// cqcsr (cmd_to, cqen/cqon/busy)). Outbound messages are observed on the IOMMU's message port;
// Invalidation Completions come back through `receiveMessage`.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageCode, Reg, atsInval, atsPrgr, iofenceC, type CommandWords } from '../../../src/formats/index.js';
import { invalidationCompletion, type PcieMessage } from '../../../src/hw/riscv-iommu/pcie-messages.js';
import { RiscvIommuBench, type BenchOptions } from '../../support/riscv-iommu-bench.js';

const CQEN = 1;
const CIE = 2;
const CQMF = 1 << 8;
const CMD_TO = 1 << 9;
const CMD_ILL = 1 << 10;
const CQON = 1 << 16;
const BUSY = 1 << 17;
const CIP = 1;

const RID = 0x1234;
const SEG = 0x43;
const PAYLOAD = 0x0000_1234_5678_0000n | (1n << 11n); // S=1: a range, as software gives it

interface Rig {
  b: RiscvIommuBench;
  page: bigint;
  sent: PcieMessage[];
  /** Invalidation Requests sent so far. */
  invals: () => PcieMessage[];
}

function rig(options: BenchOptions = {}): Rig {
  const b = new RiscvIommuBench(options);
  const sent: PcieMessage[] = [];
  b.iommu.onMessage((m) => sent.push(m));
  return { b, page: b.alloc.alloc(), sent, invals: () => sent.filter((m) => m.code === MessageCode.InvalidationRequest) };
}

function fence(addr: bigint, data: number): CommandWords {
  return iofenceC({ address: addr, data, pr: true, pw: true });
}

/**
 * A completion from function RID in segment SEG for the ITAGs in `vector`. A completion is an
 * inbound transaction that needs a device context with EN_ATS ("Device-context fields", tc),
 * so the requester gets one (in a 3-level directory) before it answers.
 */
function done(b: RiscvIommuBench, vector: number, count = 1, rid = RID, segment: number | null = SEG): boolean {
  b.ensureAtsDevice(((segment ?? 0) << 16) | rid);
  return b.iommu.receiveMessage(invalidationCompletion(rid, vector, count, segment ?? undefined));
}

describe('RISC-V IOMMU ATS.INVAL (spec "IOMMU PCIe ATS commands")', () => {
  it('sends an Invalidation Request to RID, with the segment when DSV and the PASID when PV, carrying PAYLOAD, under ITAGs 0, 1, 2', () => {
    const { b, sent } = rig();
    b.submit(
      atsInval({ rid: RID, segment: SEG }, PAYLOAD),
      atsInval({ rid: 0x5678, pasid: 0xbabec }, 0xffff_f000n | 1n),
      atsInval({ rid: 0x0009 }, 0x8000_0000_0000_0000n),
    );
    expect(sent).toEqual([
      { code: MessageCode.InvalidationRequest, rid: RID, segment: SEG, pasid: null, privileged: false, execute: false, tag: 0, payload: PAYLOAD },
      { code: MessageCode.InvalidationRequest, rid: 0x5678, segment: null, pasid: 0xbabec, privileged: false, execute: false, tag: 1, payload: 0xffff_f001n },
      { code: MessageCode.InvalidationRequest, rid: 0x0009, segment: null, pasid: null, privileged: false, execute: false, tag: 2, payload: 0x8000_0000_0000_0000n },
    ]);
    // The IOMMU may go on fetching commands while responses are awaited.
    expect(b.read32(Reg.cqh)).toBe(3);
    expect(b.cqcsr & (CMD_ILL | CMD_TO | CQMF)).toBe(0);
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(3);
  });

  it('reads commands in the byte order of fctl.BE: a big-endian IOMMU sends the same request', () => {
    const { b, sent } = rig({ bigEndianAtReset: true, capabilities: { END: false } });
    b.submit(atsInval({ rid: RID, segment: SEG, pasid: 0x12345 }, PAYLOAD));
    expect(sent).toEqual([{ code: MessageCode.InvalidationRequest, rid: RID, segment: SEG, pasid: 0x12345, privileged: false, execute: false, tag: 0, payload: PAYLOAD }]);
  });

  it('ignores PID when PV=0 and DSEG when DSV=0', () => {
    const { b, sent } = rig();
    const [w0, w1] = atsInval({ rid: RID }, 0n);
    b.submit([w0 | (0xabcden << 12n) | (0x77n << 56n), w1]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ rid: RID, segment: null, pasid: null, tag: 0 });
  });

  it('an Invalidation Completion frees its ITAG; the next request takes the lowest free ITAG', () => {
    const { b, invals } = rig();
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), atsInval({ rid: RID, segment: SEG }, 0x1000n), atsInval({ rid: RID, segment: SEG }, 0x2000n));
    expect(invals().map((m) => m.tag)).toEqual([0, 1, 2]);
    expect(done(b, 0b010)).toBe(true);
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(2);
    b.submit(atsInval({ rid: RID, segment: SEG }, 0x3000n), atsInval({ rid: RID, segment: SEG }, 0x4000n));
    expect(invals().map((m) => m.tag)).toEqual([0, 1, 2, 1, 3]);
    // One completion message may name several ITAGs.
    expect(done(b, 0b1111)).toBe(true);
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(0);
  });

  it('a completion with CC=n frees the ITAG only at the n-th completion message; CC=0 means 8', () => {
    const { b, page } = rig();
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), atsInval({ rid: RID, segment: SEG }, 0n), fence(page, 0xdead_beef));
    for (let i = 0; i < 3; i++) {
      expect(done(b, 0b10, 3)).toBe(true);
      if (i < 2) expect(b.iommu.commandQueue.outstandingInvalidations).toBe(2);
    }
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(1);
    expect(b.memory.read(page, 4)).toBe(0n);
    for (let i = 0; i < 7; i++) {
      expect(done(b, 0b01, 0)).toBe(true);
      expect(b.memory.read(page, 4)).toBe(0n);
      expect(b.read32(Reg.cqh)).toBe(2);
    }
    expect(done(b, 0b01, 0)).toBe(true);
    expect(b.memory.read(page, 4)).toBe(0xdead_beefn);
    expect(b.read32(Reg.cqh)).toBe(3);
  });

  it('an unexpected completion (ITAG not in use, other RID, other or missing segment) is rejected and changes nothing', () => {
    const { b, page } = rig({ invalidationTags: 4 });
    // Nothing outstanding at all.
    expect(done(b, 0b1, 1)).toBe(false);
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), atsInval({ rid: 0x2222 }, 0n), fence(page, 7));
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(done(b, 0b100)).toBe(false); // ITAG 2 unused
    expect(done(b, 1 << 5)).toBe(false); // beyond the implemented ITAGs
    expect(done(b, 0b001, 1, 0x9988)).toBe(false); // wrong requester
    expect(done(b, 0b001, 1, RID, 0x99)).toBe(false); // wrong segment
    expect(done(b, 0b001, 1, RID, null)).toBe(false); // the request named a segment
    expect(done(b, 0b010, 1, 0x2222, 0x11)).toBe(true); // no segment in the request: any is accepted
    // A vector naming a valid ITAG and an unused one is rejected as a whole: ITAG 0 (CC=2)
    // still needs two good completions afterwards.
    expect(done(b, 0b1001, 2)).toBe(false);
    expect(done(b, 0b0001, 2)).toBe(true);
    expect(b.memory.read(page, 4)).toBe(0n);
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(done(b, 0b0001, 2)).toBe(true);
    expect(b.memory.read(page, 4)).toBe(7n);
    expect(b.read32(Reg.cqh)).toBe(3);
    expect(b.iommu.commandQueue.stats.unexpectedCompletions).toBe(7);
    expect(b.cqcsr & (CMD_ILL | CMD_TO | CQMF)).toBe(0);
  });
});

describe('RISC-V IOMMU IOFENCE.C and outstanding ATS invalidations (spec "IOMMU Command-queue Fence commands")', () => {
  it('IOFENCE.C waits (cqh on it, no data, no ordering) while invalidations are outstanding; later commands wait too', () => {
    const { b, page, sent, invals } = rig();
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), atsInval({ rid: RID, segment: SEG }, 0x1000n), fence(page, 0xdead_beef), atsInval({ rid: RID, segment: SEG }, 0x2000n), atsPrgr({ rid: RID }, 0n), fence(page + 4n, 2));
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(b.memory.read(page, 4)).toBe(0n);
    expect(b.iommu.commandQueue.stats.orderingRequests).toEqual({ reads: 0, writes: 0 });
    expect(sent).toHaveLength(2); // the commands behind the fence were not processed
    expect(b.cqcsr & (CQON | CMD_TO | CMD_ILL | CQMF)).toBe(CQON);
    // A new doorbell does not pass the fence either.
    b.write32(Reg.cqt, b.read32(Reg.cqt));
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(done(b, 0b01)).toBe(true);
    expect(b.memory.read(page, 4)).toBe(0n);
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(done(b, 0b10)).toBe(true);
    // The fence completed; the queue went on up to the next fence, which waits for ITAG 0.
    expect(b.memory.read(page, 4)).toBe(0xdead_beefn);
    expect(b.iommu.commandQueue.stats.orderingRequests).toEqual({ reads: 1, writes: 1 });
    expect(invals().map((m) => m.tag)).toEqual([0, 1, 0]);
    expect(sent.at(-1)?.code).toBe(MessageCode.PrgResponse);
    expect(b.read32(Reg.cqh)).toBe(5);
    expect(b.memory.read(page + 4n, 4)).toBe(0n);
    expect(done(b, 0b01)).toBe(true);
    expect(b.memory.read(page + 4n, 4)).toBe(2n);
    expect(b.read32(Reg.cqh)).toBe(6);
  });

  it('when every ITAG is busy the queue stalls on the next ATS.INVAL, which is sent when an ITAG frees', () => {
    const { b, page, sent, invals } = rig({ invalidationTags: 2 });
    b.submit(
      atsInval({ rid: RID, segment: SEG }, 0x1000n),
      atsInval({ rid: RID, segment: SEG }, 0x2000n),
      atsInval({ rid: RID, segment: SEG }, 0x3000n),
      atsPrgr({ rid: RID, segment: SEG }, 5n << 44n),
      atsInval({ rid: RID, segment: SEG }, 0x4000n),
      fence(page, 9),
    );
    expect(invals().map((m) => m.payload)).toEqual([0x1000n, 0x2000n]);
    expect(sent).toHaveLength(2); // the PRGR behind the stalled command is not processed
    expect(b.read32(Reg.cqh)).not.toBe(b.read32(Reg.cqt));
    expect(b.cqcsr & (CMD_TO | CMD_ILL | CQMF)).toBe(0);
    // A completion that does not yet free the ITAG (CC=2) changes nothing.
    expect(done(b, 0b01, 2)).toBe(true);
    expect(sent).toHaveLength(2);
    expect(done(b, 0b01, 2)).toBe(true);
    // ITAG 0 freed: the blocked request goes out with it, then the queue stalls again.
    expect(invals().map((m) => [m.tag, m.payload])).toEqual([
      [0, 0x1000n],
      [1, 0x2000n],
      [0, 0x3000n],
    ]);
    expect(sent.filter((m) => m.code === MessageCode.PrgResponse)).toHaveLength(1);
    expect(done(b, 0b11)).toBe(true);
    expect(invals().map((m) => [m.tag, m.payload]).at(-1)).toEqual([0, 0x4000n]);
    expect(b.memory.read(page, 4)).toBe(0n);
    expect(done(b, 0b01)).toBe(true);
    expect(b.memory.read(page, 4)).toBe(9n);
    expect(b.read32(Reg.cqh)).toBe(b.read32(Reg.cqt));
  });

  it('an ITAG freed by a timeout releases the blocked ATS.INVAL; the fence behind it then reports the timeout', () => {
    const { b, page, invals } = rig({ invalidationTags: 1, atsInvalidationTimeoutCycles: 100 });
    b.submit(atsInval({ rid: RID, segment: SEG }, 0x1000n), atsInval({ rid: 0x77 }, 0x2000n), fence(page, 4));
    expect(invals().map((m) => m.payload)).toEqual([0x1000n]);
    b.iommu.clock.advance(100);
    expect(invals().map((m) => [m.tag, m.rid, m.payload])).toEqual([
      [0, RID, 0x1000n],
      [0, 0x77, 0x2000n],
    ]);
    expect(b.cqcsr & CMD_TO).toBe(0);
    expect(b.read32(Reg.cqh)).toBe(2); // the fence waits for the second request
    expect(done(b, 0b1, 1, 0x77, null)).toBe(true);
    expect(b.cqcsr & CMD_TO).toBe(CMD_TO);
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(b.memory.read(page, 4)).toBe(0n);
  });

  it('a device that answers from within the message callback: each ATS.INVAL is sent exactly once, also a blocked one', () => {
    const { b, page, sent, invals } = rig({ invalidationTags: 1 });
    let answer = false;
    b.iommu.onMessage((m) => {
      if (answer && m.code === MessageCode.InvalidationRequest) done(b, 1 << m.tag, 1, m.rid, m.segment);
    });
    b.submit(atsInval({ rid: RID, segment: SEG }, 0x1000n), atsInval({ rid: 0x77 }, 0x2000n), fence(page, 1), atsInval({ rid: 0x78 }, 0x3000n), fence(page + 4n, 2));
    expect(invals().map((m) => m.payload)).toEqual([0x1000n]);
    answer = true;
    expect(done(b, 0b1)).toBe(true);
    expect(invals().map((m) => [m.tag, m.payload])).toEqual([
      [0, 0x1000n],
      [0, 0x2000n],
      [0, 0x3000n],
    ]);
    expect(sent).toHaveLength(3);
    expect(b.memory.read(page, 8)).toBe((2n << 32n) | 1n);
    expect(b.read32(Reg.cqh)).toBe(5);
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(0);
    expect(b.cqcsr & (CMD_TO | CMD_ILL | CQMF)).toBe(0);
  });

  it('a timeout (simulated clock) makes the waiting IOFENCE.C set cmd_to with cqh on the fence; clearing cmd_to completes it', () => {
    const { b, page, sent } = rig({ atsInvalidationTimeoutCycles: 1000 });
    b.write32(Reg.ipsr, 0xf);
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), fence(page, 0x55), atsPrgr({ rid: RID }, 0n));
    b.iommu.clock.advance(999);
    expect(b.cqcsr & CMD_TO).toBe(0);
    expect(b.read32(Reg.cqh)).toBe(1);
    b.iommu.clock.advance(1);
    expect(b.cqcsr & (CMD_TO | CQON)).toBe(CMD_TO | CQON);
    expect(b.read32(Reg.cqh)).toBe(1);
    expect(b.read32(Reg.ipsr) & CIP).toBe(CIP);
    expect(b.memory.read(page, 4)).toBe(0n);
    expect(sent).toHaveLength(1);
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(0);
    // A completion after the timeout finds no outstanding request.
    expect(done(b, 0b1)).toBe(false);
    // Stopped: new commands are not processed.
    b.submit(atsPrgr({ rid: RID }, 1n));
    expect(sent).toHaveLength(1);
    expect(b.read32(Reg.cqh)).toBe(1);
    // cmd_to is RW1C; the fence runs again and now completes.
    b.write32(Reg.cqcsr, CQEN | CIE | CMD_TO);
    expect(b.cqcsr & CMD_TO).toBe(0);
    expect(b.memory.read(page, 4)).toBe(0x55n);
    expect(b.read32(Reg.cqh)).toBe(4);
    expect(sent.map((m) => m.code)).toEqual([MessageCode.InvalidationRequest, MessageCode.PrgResponse, MessageCode.PrgResponse]);
  });

  it('a timeout with no fence waiting is reported by the next IOFENCE.C', () => {
    const { b, page } = rig({ atsInvalidationTimeoutCycles: 50 });
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n));
    b.iommu.clock.advance(100);
    expect(b.cqcsr & CMD_TO).toBe(0);
    b.submit(fence(page, 1), fence(page + 4n, 2));
    expect(b.cqcsr & CMD_TO).toBe(CMD_TO);
    expect(b.read32(Reg.cqh)).toBe(1);
    expect(b.memory.read(page, 4)).toBe(0n);
    b.write32(Reg.cqcsr, CQEN | CIE | CMD_TO);
    expect(b.memory.read(page, 4)).toBe(1n);
    expect(b.memory.read(page + 4n, 4)).toBe(2n);
  });

  it('expireInvalidations times out the named ITAGs: the fence waits for the others, then reports cmd_to', () => {
    const { b, page } = rig();
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), atsInval({ rid: RID, segment: SEG }, 0n), fence(page, 3));
    b.iommu.commandQueue.expireInvalidations(0b01);
    expect(b.cqcsr & CMD_TO).toBe(0);
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(done(b, 0b01)).toBe(false); // ITAG 0 expired
    expect(done(b, 0b10)).toBe(true);
    expect(b.cqcsr & CMD_TO).toBe(CMD_TO);
    expect(b.read32(Reg.cqh)).toBe(2);
    expect(b.memory.read(page, 4)).toBe(0n);
  });

  it('clearing cqen while a fence waits keeps cqon=1 and busy=1 until the wait ends (completion)', () => {
    const { b, page } = rig();
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), fence(page, 0xdead_beef));
    b.write32(Reg.cqcsr, CIE);
    expect(b.cqcsr & (CQEN | CQON | BUSY)).toBe(CQON | BUSY);
    expect(done(b, 0b1)).toBe(true);
    expect(b.cqcsr & (CQEN | CQON | BUSY)).toBe(0);
    expect(b.memory.read(page, 4)).toBe(0xdead_beefn);
  });

  it('clearing cqen while a fence waits keeps cqon=1 and busy=1 until the wait ends (timeout)', () => {
    const { b, page } = rig({ atsInvalidationTimeoutCycles: 10 });
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), fence(page, 0xdead_beef));
    b.write32(Reg.cqcsr, CIE);
    expect(b.cqcsr & (CQEN | CQON | BUSY)).toBe(CQON | BUSY);
    b.iommu.clock.advance(10);
    expect(b.cqcsr & (CQEN | CQON | BUSY)).toBe(0);
    expect(b.memory.read(page, 4)).toBe(0n);
    // Re-enabling resets cqh and the error bits.
    b.write32(Reg.cqt, 0);
    b.write32(Reg.cqcsr, CQEN | CIE);
    expect(b.cqcsr & (CQEN | CQON | CMD_TO | BUSY)).toBe(CQEN | CQON);
    expect(b.read32(Reg.cqh)).toBe(0);
  });
});

describe('RISC-V IOMMU ATS.PRGR (spec "IOMMU PCIe ATS commands")', () => {
  it('sends a Page Request Group Response to RID with the segment, the PASID when PV, and PAYLOAD; no ITAG, no wait', () => {
    const { b, page, sent } = rig();
    b.submit(atsPrgr({ rid: RID, segment: SEG, pasid: 0xbabec }, 0xdead_beef_feed_beefn), atsPrgr({ rid: 0x4321 }, (0x4321n << 48n) | (0xfn << 44n) | (0x1abn << 32n)), fence(page, 1));
    expect(sent).toEqual([
      { code: MessageCode.PrgResponse, rid: RID, segment: SEG, pasid: 0xbabec, privileged: false, execute: false, tag: 0, payload: 0xdead_beef_feed_beefn },
      { code: MessageCode.PrgResponse, rid: 0x4321, segment: null, pasid: null, privileged: false, execute: false, tag: 0, payload: (0x4321n << 48n) | (0xfn << 44n) | (0x1abn << 32n) },
    ]);
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(0);
    expect(b.memory.read(page, 4)).toBe(1n);
    expect(b.read32(Reg.cqh)).toBe(3);
    expect(b.iommu.statistics().commands['ATS.PRGR']).toBe(2);
  });
});

describe('RISC-V IOMMU ATS.INVAL / IOFENCE.C ordering under random completions and timeouts (property)', () => {
  type Op = { kind: 'inval'; rid: number } | { kind: 'fence' } | { kind: 'complete'; pick: number } | { kind: 'expire'; pick: number } | { kind: 'clear' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('inval' as const), rid: fc.integer({ min: 1, max: 3 }) }),
    fc.constant({ kind: 'fence' as const }),
    fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('expire' as const), pick: fc.nat() }),
    fc.constant({ kind: 'clear' as const }),
  );

  it('a fence completes only after every earlier ATS.INVAL completed or timed out; ITAGs are never shared', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (ops, tags) => {
        const { b, page, invals } = rig({ invalidationTags: tags });
        // Submission order of commands: 'i' for ATS.INVAL, or a fence number.
        const submitted: ('i' | number)[] = [];
        const invalDone: boolean[] = []; // per ATS.INVAL, in submission order
        const tagOwner = new Map<number, number>(); // busy ITAG -> index of its ATS.INVAL
        let sentSeen = 0;
        let fences = 0;
        const track = (): void => {
          const list = invals();
          for (; sentSeen < list.length; sentSeen++) {
            const m = list[sentSeen];
            expect(m.tag).toBeLessThan(tags);
            expect(tagOwner.has(m.tag)).toBe(false); // an ITAG is never in use twice
            tagOwner.set(m.tag, sentSeen);
          }
          expect(b.iommu.commandQueue.outstandingInvalidations).toBe(tagOwner.size);
          // Every fence whose data is visible follows only finished invalidations.
          let invalIndex = 0;
          for (const c of submitted) {
            if (c === 'i') {
              invalIndex++;
              continue;
            }
            if (b.memory.read(page + BigInt(4 * c), 4) === BigInt(c + 1)) {
              for (let k = 0; k < invalIndex; k++) expect(invalDone[k]).toBe(true);
            }
          }
        };
        for (const o of ops) {
          const used = (b.read32(Reg.cqt) - b.read32(Reg.cqh) + 64) % 64;
          if (o.kind === 'inval' && used < 60) {
            b.submit(atsInval({ rid: o.rid }, 0n));
            submitted.push('i');
            invalDone.push(false);
          } else if (o.kind === 'fence' && used < 60 && fences < 1000) {
            b.submit(fence(page + BigInt(4 * fences), fences + 1));
            submitted.push(fences++);
          } else if ((o.kind === 'complete' || o.kind === 'expire') && tagOwner.size > 0) {
            const busy = [...tagOwner.keys()];
            const tag = busy[o.pick % busy.length];
            const owner = tagOwner.get(tag) as number;
            tagOwner.delete(tag);
            invalDone[owner] = true;
            if (o.kind === 'complete') expect(done(b, 1 << tag, 1, invals()[owner].rid, null)).toBe(true);
            else b.iommu.commandQueue.expireInvalidations(1 << tag);
          } else if (o.kind === 'clear') {
            b.write32(Reg.cqcsr, CQEN | CIE | CMD_TO);
          }
          track();
          expect(b.cqcsr & (CMD_ILL | CQMF)).toBe(0);
        }
        // Drain: complete everything and clear timeouts; every fence must then have completed.
        for (let guard = 0; guard < 200 && (tagOwner.size > 0 || b.read32(Reg.cqh) !== b.read32(Reg.cqt)); guard++) {
          for (const [tag, owner] of [...tagOwner]) {
            tagOwner.delete(tag);
            invalDone[owner] = true;
            expect(done(b, 1 << tag, 1, invals()[owner].rid, null)).toBe(true);
          }
          b.write32(Reg.cqcsr, CQEN | CIE | CMD_TO);
          track();
        }
        expect(b.read32(Reg.cqh)).toBe(b.read32(Reg.cqt));
        for (let f = 0; f < fences; f++) expect(b.memory.read(page + BigInt(4 * f), 4)).toBe(BigInt(f + 1));
      }),
      { numRuns: 150 },
    );
  });
});

describe('Invalidation Completions are inbound transactions ("Device-context fields", tc.EN_ATS)', () => {
  it('a completion from a device whose context has EN_ATS=0 is refused and recorded as cause 260, TTYP 9, iotval = message code 2', () => {
    const { b, page } = rig();
    b.setMode('3LVL');
    b.setDeviceContext((SEG << 16) | RID, {}); // valid, EN_ATS=0
    b.submit(atsInval({ rid: RID, segment: SEG }, 0n), fence(page, 1));
    expect(b.iommu.receiveMessage(invalidationCompletion(RID, 1, 1, SEG))).toBe(false);
    expect(b.iommu.commandQueue.outstandingInvalidations).toBe(1);
    const [f] = b.faults();
    expect([f.cause, f.ttyp, f.did, f.iotval]).toEqual([260, 9, (SEG << 16) | RID, 2n]);
  });

  it('with the IOMMU Off a completion is refused with cause 256; an empty ITAG vector matches nothing', () => {
    const { b } = rig();
    expect(b.iommu.receiveMessage(invalidationCompletion(RID, 1, 1, SEG))).toBe(false);
    expect(b.faults().map((f) => [f.cause, f.ttyp])).toEqual([[256, 9]]);
    b.ensureAtsDevice((SEG << 16) | RID);
    expect(b.iommu.receiveMessage(invalidationCompletion(RID, 0, 1, SEG))).toBe(false);
  });
});
