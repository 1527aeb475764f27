"""Measuring a live serving endpoint: prompts with known prefix reuse, the streaming client,
the engine's and the GPUs' counters, the (rate, reuse) sweep, and the simulator-backed test
server."""
