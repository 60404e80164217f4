// Where a VirtioPciFunction puts things (QEMU's modern virtio-pci layout): the MSI-X table
// and PBA in a 32-bit BAR1, the virtio structures in a 64-bit prefetchable BAR4 of 16 KiB,
// one 4 KiB page each, so that a driver can map them separately.

export const VirtioPciLayout = {
  MSIX_BAR: 1,
  VIRTIO_BAR: 4,
  VIRTIO_BAR_SIZE: 0x4000,
  COMMON: 0x0000,
  ISR: 0x1000,
  DEVICE: 0x2000,
  NOTIFY: 0x3000,
  /** Each structure's page. */
  REGION_SIZE: 0x1000,
} as const;

/** Size of the MSI-X BAR for `vectors` vectors: the table, then the PBA, at least 4 KiB. */
export function msixBarSize(vectors: number): number {
  const bytes = vectors * 16 + Math.ceil(vectors / 64) * 8;
  let size = 0x1000;
  while (size < bytes) size *= 2;
  return size;
}
