// Identities of the PCI functions iommu-lab models.

/**
 * The DMA-engine endpoint: vendor 0x1b36 (Red Hat, the vendor id QEMU's emulated devices use)
 * with device id 0x00d1, which no QEMU device uses; class 0xff0000 (device does not fit a
 * defined class).
 */
export const PCI_DMA_ENGINE_IDS = { vendor: 0x1b36, device: 0x00d1, classCode: 0xff0000 } as const;

/**
 * The RISC-V IOMMU as a PCIe function (the `riscv,pci-iommu` binding): the ids of QEMU's
 * riscv-iommu-pci (Red Hat 0x1b36, device 0x0014, which Linux's riscv-iommu-pci matches),
 * class 0x080600 (base class system peripheral, sub-class IOMMU, programming interface 0).
 */
export const PCI_RISCV_IOMMU_IDS = { vendor: 0x1b36, device: 0x0014, classCode: 0x080600 } as const;
