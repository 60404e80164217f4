// Errors the SMMUv3 driver raises: probe failures it cannot express as a probe result, and
// hardware that stops answering (a CMD_SYNC that never completes, an acknowledgement that
// never comes).

export class ArmSmmuV3Error extends Error {}
