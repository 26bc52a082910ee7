"""Dense spatial rewards: format, count, accuracy, spatial (CIoU) and the gated total; TRL and veRL adapters."""
