// Command names from their encodings (specification "Command-Queue (CQ)": opcode in bits 6:0,
// func3 in bits 9:7), as reports and logs print them.
import { describe, expect, it } from 'vitest';
import { atsInval, atsPrgr, commandName, iodirInvalDdt, iodirInvalPdt, iofenceC, iotinvalGvma, iotinvalVma } from '../../../src/formats/riscv-iommu/commands.js';

describe('commandName', () => {
  it('names every command by opcode and func3', () => {
    expect(
      [iotinvalVma(), iotinvalGvma(), iofenceC(), iodirInvalDdt(), iodirInvalPdt(1, 2), atsInval({ rid: 8 }, 0n), atsPrgr({ rid: 8 }, 0n)].map(commandName),
    ).toEqual(['IOTINVAL.VMA', 'IOTINVAL.GVMA', 'IOFENCE.C', 'IODIR.INVAL_DDT', 'IODIR.INVAL_PDT', 'ATS.INVAL', 'ATS.PRGR']);
  });

  it('describes encodings that name no command', () => {
    expect(commandName([0x7fn, 0n])).toBe('opcode 127 func3 0');
    expect(commandName([1n | (5n << 7n), 0n])).toBe('opcode 1 func3 5');
  });
});
