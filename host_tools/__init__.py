"""Host-side tools: simulator, virtual device, console client, deploy, plots, benchmarks."""
