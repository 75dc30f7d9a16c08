"""Faithful local emulators of the provider APIs (with their OAuth servers), for the demo, the
tests and the benchmarks. `sandbox.common.server` runs any of them over real HTTP."""
