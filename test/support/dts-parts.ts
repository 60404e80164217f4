// DTS text the hand-built test machines share: one RISC-V hart with its local interrupt
// controller (labelled cpu0_intc, for interrupts-extended of the PLIC and the IMSIC).

export const ONE_HART_CPUS = `cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@0 {
			device_type = "cpu";
			reg = <0>;
			compatible = "riscv";
			cpu0_intc: interrupt-controller {
				#interrupt-cells = <1>;
				interrupt-controller;
				compatible = "riscv,cpu-intc";
			};
		};
	};`;
