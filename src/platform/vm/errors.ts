// Mistakes in the description of a host + guest pair: a guest device that is not modelled in a
// guest, an assigned device the host does not have, guest RAM the host kernel could allocate.
// Each message names the device-tree node and what was expected.

export class VmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VmError';
  }
}
