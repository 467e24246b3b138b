"""ARM (aarch64) correctness check under qemu-user-static; see run_check.py."""
