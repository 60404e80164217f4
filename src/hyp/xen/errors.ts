// Errors the hypervisor's callers make (a device path no node has, a device that is busy, a
// domain that does not fit in memory or in the IOMMU's contexts) and a guest CPU access its
// P2M does not allow. Each message names the domain, device or address concerned.

export class XenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XenError';
  }
}

/** A guest access the stage-2 translation refuses: on hardware, a stage-2 data abort. */
export class GuestMemoryFault extends XenError {
  constructor(
    readonly domain: string,
    readonly gpa: bigint,
    readonly write: boolean,
    readonly reason: 'unmapped' | 'permission',
  ) {
    super(`${domain}: stage-2 ${write ? 'write' : 'read'} abort at IPA 0x${gpa.toString(16)}: ${reason === 'unmapped' ? 'nothing is mapped there' : 'the P2M does not permit it'}`);
    this.name = 'GuestMemoryFault';
  }
}
