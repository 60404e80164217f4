// The Command queue (IHI 0070 3.5, 4.1, 4.7.3, 7.1): consumption, wrap, command errors
// (CERROR_ILL, CERROR_ABT) and their recovery through GERRORN, CMD_SYNC completion signals
// (SIG_IRQ with MSI and the wired output, SIG_SEV), prefetch and configuration invalidation.
import { describe, expect, it } from 'vitest';
import {
  cmdAtcInv,
  cmdCfgiAll,
  cmdCfgiCd,
  cmdCfgiSte,
  cmdPrefetchAddr,
  cmdPrefetchConfig,
  cmdPriResp,
  cmdResume,
  cmdStallTerm,
  cmdSync,
  cmdTlbiEl2All,
  cmdTlbiNhAll,
  cmdTlbiNhAsid,
  cmdTlbiS12Vmall,
  cmdTlbiS2Ipa,
  Opcode,
  SyncCs,
  type CommandWords,
} from '../../../src/formats/smmuv3/commands.js';
import { CmdqError, Gerror, Reg } from '../../../src/formats/smmuv3/registers.js';
import { SteConfig } from '../../../src/formats/smmuv3/structures.js';
import type { SmmuV3Options } from '../../../src/hw/smmuv3/parameters.js';
import { Outcome } from '../../../src/hw/smmuv3/transaction.js';
import { Bench, CR0 } from './bench.js';

const ERR = (b: Bench) => (b.cmdqCons >>> 24) & 0x7f;
const RD = (b: Bench) => b.cmdqCons & 0xf_ffff;

describe('4.1.2 consumption', () => {
  it('commands are consumed when CMDQ_PROD is written: CONS catches up with PROD', () => {
    const b = new Bench().init();
    b.submit(cmdSync(), cmdSync(), cmdSync());
    expect([RD(b), b.read32(Reg.CMDQ_PROD)]).toEqual([3, 3]);
    expect(b.smmu.statistics().commands).toEqual({ CMD_SYNC: 3 });
  });

  it('3.5.1 indexes wrap at the queue size and toggle the wrap flag', () => {
    const b = new Bench().init({ cmdqLog2: 2 });
    for (let i = 0; i < 6; i++) b.submit(cmdSync());
    expect(RD(b)).toBe(0b110); // 6 = wrap 1, index 2
    expect(b.read32(Reg.CMDQ_PROD)).toBe(0b110);
  });

  it('a one-entry queue (LOG2SIZE 0) consumes by toggling the wrap flag', () => {
    const b = new Bench().init({ cmdqLog2: 0 });
    b.submit(cmdSync());
    expect(RD(b)).toBe(1);
    b.submit(cmdSync());
    expect(RD(b)).toBe(0);
  });

  it('6.3.9.3 nothing is consumed while CMDQEN == 0; enabling the queue consumes what is pending', () => {
    const b = new Bench().init();
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.EVENTQEN);
    b.submit(cmdSync(), cmdSync());
    expect(RD(b)).toBe(0);
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.EVENTQEN | CR0.CMDQEN);
    expect(RD(b)).toBe(2);
  });

  it('commands are consumed while SMMUEN == 0', () => {
    const b = new Bench().init({ disabled: true });
    b.submit(cmdCfgiAll(), cmdSync());
    expect(RD(b)).toBe(2);
  });
});

describe('4.1.3 / 7.1 CERROR_ILL', () => {
  /** Submits a sync, the command, a sync; returns CONS.RD, CONS.ERR and whether CMDQ_ERR is active. */
  function errorOf(cmd: CommandWords, options: SmmuV3Options = {}): [number, number, boolean] {
    const b = new Bench(options).init();
    b.submit(cmdSync(), cmd, cmdSync());
    return [RD(b), ERR(b), (b.gerror & Gerror.CMDQ_ERR) !== (b.read32(Reg.GERRORN) & Gerror.CMDQ_ERR)];
  }
  const ILL: [number, number, boolean] = [1, CmdqError.Ill, true];
  const OK: [number, number, boolean] = [3, 0, false];
  const cases: [string, CommandWords, SmmuV3Options?][] = [
    ['reserved opcode 0x00', [0n, 0n]],
    ['reserved opcode 0x08', [0x08n, 0n]],
    ['reserved opcode 0x31', [0x31n, 0n]],
    ['IMPLEMENTATION DEFINED opcode 0x85 (none implemented)', [0x85n, 0n]],
    ['CMD_TLBI_EL3_ALL on the Non-secure queue', [BigInt(Opcode.TLBI_EL3_ALL), 0n]],
    ['CMD_TLBI_EL3_VA on the Non-secure queue', [BigInt(Opcode.TLBI_EL3_VA), 0n]],
    ['CMD_TLBI_S_EL2_ALL on the Non-secure queue', [BigInt(Opcode.TLBI_S_EL2_ALL), 0n]],
    ['CMD_TLBI_S_S12_VMALL on the Non-secure queue', [BigInt(Opcode.TLBI_S_S12_VMALL), 0n]],
    ['CMD_TLBI_SNH_ALL on the Non-secure queue', [BigInt(Opcode.TLBI_SNH_ALL), 0n]],
    ['CMD_CFGI_VMS_PIDM without VMS', [BigInt(Opcode.CFGI_VMS_PIDM), 0n]],
    ['CMD_DPTI_ALL without DPT', [BigInt(Opcode.DPTI_ALL), 0n]],
    ['CMD_RESUME (STALL_MODEL == 0b01)', cmdResume(1, 1, 'retry')],
    ['CMD_STALL_TERM (STALL_MODEL == 0b01)', cmdStallTerm(1)],
    ['SSec == 1 on the Non-secure queue', [cmdCfgiSte(1)[0] | (1n << 10n), 1n]],
    ['a non-zero Reserved field', [cmdSync()[0] | (1n << 8n), 0n]],
    ['CMD_SYNC with CS == 0b11', cmdSync({ cs: 3 })],
    ['CMD_PRI_RESP with Resp == 0b11', cmdPriResp(1, 1, 3)],
    ['CMD_ATC_INV with Size > 52', cmdAtcInv(1, 0n, 53)],
    ['stage 1 invalidation without stage 1', cmdTlbiNhAll(0), { capabilities: { stage1: false, ssidBits: 0, twoLevelCdTable: false, hyp: false } }],
    ['CMD_CFGI_CD without stage 1', cmdCfgiCd(1, 0), { capabilities: { stage1: false, ssidBits: 0, twoLevelCdTable: false, hyp: false } }],
    ['stage 2 invalidation without stage 2', cmdTlbiS2Ipa(1, 0n), { capabilities: { stage2: false } }],
    ['CMD_TLBI_S12_VMALL without stage 2', cmdTlbiS12Vmall(1), { capabilities: { stage2: false } }],
    ['EL2 invalidation without HYP', cmdTlbiEl2All(), { capabilities: { hyp: false } }],
    ['CMD_ATC_INV without ATS', cmdAtcInv(1, 0n, 0), { capabilities: { ats: false, pri: false } }],
    ['CMD_PRI_RESP without PRI', cmdPriResp(1, 1, 2), { capabilities: { pri: false } }],
    ['VMID[15:8] != 0 without VMID16', cmdTlbiNhAll(0x100), { capabilities: { vmid16: false } }],
    ['ASID[15:8] != 0 without ASID16', cmdTlbiNhAsid(1, 0x100), { capabilities: { asid16: false } }],
  ];
  for (const [name, cmd, options] of cases) {
    it(name, () => {
      expect(errorOf(cmd, options)).toEqual(ILL);
    });
  }

  it('4.1.5 with checkReservedCommandFields == false a Reserved field is ignored', () => {
    expect(errorOf([cmdSync()[0] | (1n << 8n), 0n], { checkReservedCommandFields: false })).toEqual(OK);
  });

  it('every valid command of the default configuration is consumed without error', () => {
    const b = new Bench().init();
    b.submit(
      cmdPrefetchConfig(1),
      cmdPrefetchAddr(1, 0x1000n),
      cmdCfgiSte(1),
      cmdCfgiCd(1, 0),
      cmdCfgiAll(),
      cmdTlbiNhAll(1),
      cmdTlbiNhAsid(1, 1),
      cmdTlbiEl2All(),
      cmdTlbiS12Vmall(1),
      cmdTlbiS2Ipa(1, 0x1000n),
      cmdAtcInv(1, 0n, 52),
      cmdPriResp(1, 1, 2),
      cmdSync({ cs: SyncCs.SIG_SEV }),
    );
    expect([RD(b), ERR(b), b.gerror]).toEqual([13, 0, 0]);
  });
});

describe('7.1 command error state and recovery', () => {
  it('GERROR.CMDQ_ERR is raised with the GERROR interrupt; later commands are not consumed', () => {
    const b = new Bench().init();
    b.submit([0x31n, 0n], cmdSync());
    expect([RD(b), ERR(b), b.gerror & Gerror.CMDQ_ERR]).toEqual([0, CmdqError.Ill, Gerror.CMDQ_ERR]);
    expect(b.lines.gerror.rises).toBe(1);
    b.submit(cmdSync());
    expect(RD(b)).toBe(0);
  });

  it('fixing the command in place and acknowledging CMDQ_ERR through GERRORN restarts consumption at it', () => {
    const b = new Bench().init();
    b.submit([0x31n, 0n], cmdSync());
    b.writeDwords(b.cmdq, cmdSync());
    b.ackGerror();
    expect([RD(b), b.gerror ^ b.read32(Reg.GERRORN)]).toEqual([2, 0]);
  });

  it('acknowledging without fixing re-fetches the bad command and raises the error again', () => {
    const b = new Bench().init();
    b.submit([0x31n, 0n]);
    b.ackGerror();
    expect([RD(b), ERR(b)]).toEqual([0, CmdqError.Ill]);
    expect(b.gerror ^ b.read32(Reg.GERRORN)).toBe(Gerror.CMDQ_ERR);
  });

  it('software may move PROD back to CONS to drop the commands after the error', () => {
    const b = new Bench().init();
    b.submit(cmdSync(), [0x31n, 0n], cmdSync());
    b.write32(Reg.CMDQ_PROD, RD(b));
    b.ackGerror();
    expect([RD(b), b.read32(Reg.CMDQ_PROD)]).toEqual([1, 1]);
  });

  it('7.1 CERROR_ABT: an external abort reading a command leaves CONS on it', () => {
    const b = new Bench().init();
    b.memory.markAccessFault(b.cmdq + 16n, 16n);
    b.submit(cmdSync(), cmdSync(), cmdSync());
    expect([RD(b), ERR(b), b.gerror & Gerror.CMDQ_ERR]).toEqual([1, CmdqError.Abort, Gerror.CMDQ_ERR]);
    b.memory.clearMarks();
    b.ackGerror();
    expect(RD(b)).toBe(3);
  });

  it('a change to CMDQEN does not acknowledge CMDQ_ERR', () => {
    const b = new Bench().init();
    b.submit([0x31n, 0n]);
    b.write32(Reg.CR0, CR0.SMMUEN);
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.CMDQEN);
    expect(b.gerror & Gerror.CMDQ_ERR).toBe(Gerror.CMDQ_ERR);
    expect(b.read32(Reg.GERRORN)).toBe(0);
  });

  it('counts command errors by kind', () => {
    const b = new Bench().init();
    b.submit([0x31n, 0n]);
    expect(b.smmu.statistics().commandErrors).toEqual({ ill: 1, abt: 0, atcInvSync: 0 });
  });
});

describe('4.7.3 CMD_SYNC completion signals', () => {
  it('SIG_NONE: no interrupt, no MSI', () => {
    const b = new Bench().init();
    b.submit(cmdSync({ cs: SyncCs.SIG_NONE, msiAddress: 0x2000_0000n, msiData: 5 }));
    expect([b.lines.cmdqSync.rises, b.memory.read(0x2000_0000n, 4)]).toEqual([0, 0n]);
  });

  it('SIG_IRQ: a 32-bit write of MSIData to MSIAddress, and a pulse on the wired output', () => {
    const b = new Bench().init();
    b.submit(cmdSync({ cs: SyncCs.SIG_IRQ, msiAddress: 0x2000_0004n, msiData: 0xcafe_f00d }));
    expect(b.memory.read(0x2000_0004n, 4)).toBe(0xcafe_f00dn);
    expect(b.lines.cmdqSync.rises).toBe(1);
    expect(b.lines.combined.rises).toBe(1);
    expect(b.smmu.statistics().interrupts.msisSent).toBe(1);
  });

  it('SIG_IRQ with MSIAddress == 0: only the wired output', () => {
    const b = new Bench().init();
    b.submit(cmdSync({ cs: SyncCs.SIG_IRQ, msiData: 7 }));
    expect([b.lines.cmdqSync.rises, b.smmu.statistics().interrupts.msisSent]).toEqual([1, 0]);
  });

  it('the MSI is written after CONS has moved past the CMD_SYNC (3.18)', () => {
    const b = new Bench().init();
    let consAtMsi = -1;
    b.lines.cmdqSync.onChange((level) => {
      if (level) consAtMsi = RD(b);
    });
    b.submit(cmdSync(), cmdSync({ cs: SyncCs.SIG_IRQ }));
    expect(consAtMsi).toBe(2);
  });

  it('without MSIs the MSI fields are IGNORED', () => {
    const b = new Bench({ capabilities: { msi: false } }).init();
    b.submit(cmdSync({ cs: SyncCs.SIG_IRQ, msiAddress: 0x2000_0000n, msiData: 5 }));
    expect([b.memory.read(0x2000_0000n, 4), BigInt(b.lines.cmdqSync.rises)]).toEqual([0n, 1n]);
  });

  it('3.4.3 the MSI address is truncated to the OAS', () => {
    const b = new Bench({ capabilities: { oasBits: 40 } }).init();
    b.submit(cmdSync({ cs: SyncCs.SIG_IRQ, msiAddress: (1n << 44n) | 0x3000_0000n, msiData: 9 }));
    expect(b.memory.read(0x3000_0000n, 4)).toBe(9n);
  });

  it('an aborted MSI activates GERROR.MSI_CMDQ_ABT_ERR (and the GERROR interrupt)', () => {
    const b = new Bench().init();
    b.memory.markAccessFault(0x2000_0000n, 4n);
    b.submit(cmdSync({ cs: SyncCs.SIG_IRQ, msiAddress: 0x2000_0000n, msiData: 1 }));
    expect(b.gerror).toBe(Gerror.MSI_CMDQ_ABT_ERR);
    expect(b.lines.gerror.rises).toBe(1);
    expect(b.smmu.statistics().interrupts.msiAborts).toBe(1);
  });

  it('SIG_SEV sends a wake-up event when IDR0.SEV == 1, nothing otherwise', () => {
    const b = new Bench().init();
    b.submit(cmdSync({ cs: SyncCs.SIG_SEV }));
    expect(b.lines.sev.rises).toBe(1);
    const c = new Bench({ capabilities: { sev: false } }).init();
    c.submit(cmdSync({ cs: SyncCs.SIG_SEV }));
    expect(c.lines.sev.rises).toBe(0);
  });

  it('4.1.2 a wake-up event when a full Command queue becomes non-full', () => {
    const b = new Bench().init({ cmdqLog2: 1 });
    b.write32(Reg.CR0, CR0.SMMUEN);
    b.submit(cmdSync(), cmdSync());
    expect(b.read32(Reg.CMDQ_PROD)).toBe(0b10); // full: index 0, wrap 1
    b.write32(Reg.CR0, CR0.SMMUEN | CR0.CMDQEN);
    expect(b.lines.sev.rises).toBe(1);
  });
});

describe('4.2 prefetch and 4.3 configuration invalidation', () => {
  it('CMD_PREFETCH_CONFIG fills the STE and CD caches; the next translation hits', () => {
    const b = new Bench().init();
    b.stage1Stream(1).pt.map(0x1000n, 0x2000n);
    b.submit(cmdPrefetchConfig(1));
    const s = b.smmu.statistics();
    expect([s.walks.steFetches, s.walks.cdFetches]).toEqual([1, 1]);
    b.translate({ sid: 1, address: 0x1000n });
    const t = b.smmu.statistics();
    expect([t.caches.ste.hits, t.caches.cd.hits]).toEqual([1, 1]);
  });

  it('7.2 prefetching an invalid configuration records nothing', () => {
    const b = new Bench().init();
    b.submit(cmdPrefetchConfig(1), cmdPrefetchConfig(0xffff_ffff), cmdPrefetchAddr(2, 0n));
    expect(b.events()).toEqual([]);
    expect(b.gerror).toBe(0);
  });

  it('prefetch commands are consumed but do nothing while SMMUEN == 0', () => {
    const b = new Bench().init({ disabled: true });
    b.writeSte(1, { V: 1, Config: SteConfig.Bypass });
    b.submit(cmdPrefetchConfig(1));
    expect([RD(b), b.smmu.statistics().walks.steFetches]).toEqual([1, 0]);
  });

  it('CMD_CFGI_ALL empties every configuration cache', () => {
    const b = new Bench().init();
    b.stage1Stream(1).pt.map(0x1000n, 0x2000n);
    b.translate({ sid: 1, address: 0x1000n });
    b.submit(cmdCfgiAll());
    const s = b.smmu.statistics().caches;
    expect([s.ste.entries, s.cd.entries]).toEqual([0, 0]);
    expect(b.translate({ sid: 1, address: 0x1000n }).outcome).toBe(Outcome.Ok);
    expect(b.smmu.statistics().walks.steFetches).toBe(2);
  });

  it('6.3.9.6 invalidation commands issued while SMMUEN == 0 take effect', () => {
    const b = new Bench().init();
    b.writeSte(1, { V: 1, Config: SteConfig.Bypass });
    b.translate({ sid: 1, address: 0n });
    b.write32(Reg.CR0, CR0.CMDQEN | CR0.EVENTQEN);
    b.writeSte(1, { V: 1, Config: SteConfig.Abort });
    b.submit(cmdCfgiSte(1), cmdSync());
    b.write32(Reg.CR0, CR0.CMDQEN | CR0.EVENTQEN | CR0.SMMUEN);
    expect(b.translate({ sid: 1, address: 0n }).outcome).toBe(Outcome.Abort);
  });
});
