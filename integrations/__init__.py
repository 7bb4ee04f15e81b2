"""Platform adapters (Zoom, Teams, the simulator) and the contract they share with the engine."""
