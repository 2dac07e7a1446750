// Tuning: LoRA training (issue 4), in progress.
