// The PCIe message payload decoders endpoints use (PCIe Base Specification: Page Request
// Message 10.4.1, PRG Response Message 10.4.2, ATS Invalidate Request 10.3.1 with the S bit
// range encoding), checked against messages the model itself sends and receives.
import { describe, expect, it } from 'vitest';
import { decodeInvalidationPayload, decodePageRequestPayload, decodePrgResponsePayload, pageRequest } from '../../../src/hw/riscv-iommu/pcie-messages.js';

describe('PCIe message payloads', () => {
  it('page requests: address, R/W, last, group index and stop markers round-trip through pageRequest', () => {
    const m = pageRequest({ rid: 0x10, address: 0x1234_5000n, read: true, write: true, last: true, groupIndex: 0x1a5 });
    expect(decodePageRequestPayload(m.payload)).toEqual({ address: 0x1234_5000n, read: true, write: true, last: true, groupIndex: 0x1a5, stopMarker: false });
    const stop = pageRequest({ rid: 0x10, address: 0n, read: false, write: false, last: true, groupIndex: 3 });
    expect(decodePageRequestPayload(stop.payload).stopMarker).toBe(true);
  });

  it('PRG responses: destination id in bits 63:48, response code in 47:44, group index in 40:32', () => {
    expect(decodePrgResponsePayload(0x0010_f1a5_0000_0000n)).toEqual({ destinationId: 0x10, responseCode: 0xf, groupIndex: 0x1a5 });
  });

  it('invalidation requests: one page without S; with S the first zero address bit X from 12 gives 2^(X+1) bytes', () => {
    expect(decodeInvalidationPayload(0x4000_0000n | 1n)).toEqual({ address: 0x4000_0000n, global: true, s: false, base: 0x4000_0000n, size: 0x1000n });
    // Bit 12 clear: 8 KiB.
    expect(decodeInvalidationPayload(0x4000_0000n | (1n << 11n))).toMatchObject({ s: true, base: 0x4000_0000n, size: 0x2000n });
    // Bits 12-19 set, bit 20 clear: 2 MiB starting at the aligned base.
    expect(decodeInvalidationPayload(0x4000_0000n | 0xf_f000n | (1n << 11n))).toMatchObject({ base: 0x4000_0000n, size: 0x20_0000n });
    // Every address bit set below 63: the whole 64-bit space.
    expect(decodeInvalidationPayload(0x7fff_ffff_ffff_f000n | (1n << 11n))).toMatchObject({ base: 0n, size: 1n << 64n });
  });
});
