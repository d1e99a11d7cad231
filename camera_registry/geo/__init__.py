"""Pure geometry and the few spatial queries whose SQL differs by backend."""
