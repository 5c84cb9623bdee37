"""Export PHUDGE weights (LoRA adapter or merged checkpoint) to a judge bundle for the fleet."""
