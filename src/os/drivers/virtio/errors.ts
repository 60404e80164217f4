// Why setting up a virtio device failed (a probe turns it into its error result).
export class VirtioError extends Error {}
