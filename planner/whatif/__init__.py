"""What-if layer: scenarios applied to inputs, batches of them, and parameter sweeps."""
